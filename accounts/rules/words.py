"""Words for people: a count with its noun in the right number."""


def counted(count: int, noun: str, plural: str = "") -> str:
    """Return '1 row', '2 rows' (or the given plural for nouns that do not take an 's')."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def noun_for(count: int, noun: str, plural: str = "") -> str:
    """Return the noun alone in the number the count asks for: 'line' for 1, 'lines' otherwise."""
    return noun if count == 1 else plural or noun + "s"
