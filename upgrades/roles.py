"""Roles are Django groups: viewer (read), operator (upgrade and operate), admin (clusters, tokens, packages).
Each role includes the ones below it; superusers are admins."""

from django.contrib.auth.models import Group

ROLES = ("viewer", "operator", "admin")


def ensure_role_groups():
    for role in ROLES:
        Group.objects.get_or_create(name=role)


def user_role(user):
    if not user or not user.is_authenticated:
        return None
    if user.is_superuser:
        return "admin"
    names = set(user.groups.values_list("name", flat=True))
    for role in reversed(ROLES):
        if role in names:
            return role
    return None


def has_role(user, role):
    current = user_role(user)
    return current is not None and has_role_name(current, role)


def has_role_name(current, role):
    """Whether the role `current` includes `role`."""
    return ROLES.index(current) >= ROLES.index(role)
