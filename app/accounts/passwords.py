"""Password rules, shared by sign-up, invites, reset and change."""
from flask_babel import lazy_gettext as _l

MIN_LENGTH = 10
_COMMON = {
    "password", "password1", "password123", "passw0rd", "qwerty", "qwertyuiop", "1234567890",
    "12345678", "123456789", "1234567890", "11111111", "00000000", "abcdefgh", "abc12345",
    "iloveyou", "woaini1314", "a123456789", "qwe123456", "1qaz2wsx", "88888888", "66666666",
    "letmein123", "welcome123", "admin12345", "abcd1234", "aa123456", "zxcvbnm123",
}


def password_problem(password: str, email: str = "") -> str | None:
    """Why this password is too weak, or None."""
    if len(password or "") < MIN_LENGTH:
        return _l("Use at least %(n)d characters.", n=MIN_LENGTH)
    lowered = password.lower()
    if lowered in _COMMON or len(set(password)) < 4:
        return _l("This password is too common. Choose something harder to guess.")
    if password.isdigit():
        return _l("Use letters as well as digits.")
    local = (email or "").split("@")[0].lower()
    if len(local) >= 4 and local in lowered:
        return _l("Don't use your email address in the password.")
    return None
