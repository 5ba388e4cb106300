from .models import User


def update_profile(
    user: User, *, display_name: str, first_name: str, last_name: str, email: str, time_zone: str
) -> User:
    user.display_name = display_name
    user.first_name = first_name
    user.last_name = last_name
    user.email = email
    user.time_zone = time_zone
    user.save(update_fields=["display_name", "first_name", "last_name", "email", "time_zone"])
    return user
