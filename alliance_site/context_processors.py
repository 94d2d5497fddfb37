def header(request):
    """Counts shown in the page header for signed-in staff (one query, only when signed in)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not getattr(user, "clinic_id", None):
        return {}
    from measures.models import Signal  # late: context processors load before apps are ready

    return {"unseen_flag_count": Signal.objects.unseen_for(user).count}
