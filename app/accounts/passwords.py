"""Password rules, shared by sign-up, invites, reset and change."""
from flask_babel import lazy_gettext as _l

MIN_LENGTH = 10
MIN_SCORE = 3  # zxcvbn: 0 too guessable … 4 very unguessable
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
    if _guessable(password, email):
        return _l("This password is too easy to guess: it is a common password, or a common word, name, date or "
                  "keyboard pattern with a few changes. Try three or four unrelated words.")
    return None


def _guessable(password: str, email: str) -> bool:
    # zxcvbn matches against its bundled frequency lists (30,000 leaked passwords, Chinese favourites such as
    # woaini, 5201314 and 1314520 among them, plus names and common words) and recognises keyboard walks,
    # repeats, sequences and dates. Score 3 means roughly 10^8 guesses: enough with our login throttling.
    from zxcvbn import zxcvbn

    hints = [part for part in (email or "").replace("@", " ").replace(".", " ").split() if len(part) >= 3]
    result = zxcvbn(password, user_inputs=hints)
    if result["score"] < MIN_SCORE:
        return True
    # zxcvbn rates two glued list entries such as woaini + 1314520 fairly high, but attackers try exactly such
    # pairs first: refuse a password made only of at most two common passwords and digit/keyboard patterns.
    matches = result["sequence"]
    listed = [m for m in matches if m["pattern"] == "dictionary" and m.get("dictionary_name") == "passwords"]
    patterned = all(m in listed or m["pattern"] in ("repeat", "sequence", "spatial", "date", "regex")
                    for m in matches)
    return patterned and 0 < len(listed) <= 2
