"""Loads the bundled instrument definitions after every migrate (idempotent)."""


def load_bundled_instruments(sender, using="default", **kwargs):
    from .actions.instruments import do_load_bundled_instruments

    do_load_bundled_instruments()
