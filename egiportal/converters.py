"""URL path converters of the portal."""

ID_MAX = 2**63 - 1  # the largest id a 64-bit primary key holds (PostgreSQL bigint, SQLite INTEGER)


class IdConverter:
    """An object id in a URL (`<id:pk>`): 1-19 ASCII digits, at most ID_MAX. Any other id does not match,
    so it is a 404 without a query (a larger one overflowed the database driver: a 500)."""

    regex = "[0-9]{1,19}"

    def to_python(self, value):
        number = int(value)
        if number > ID_MAX:
            raise ValueError(f"{value} is past the largest id")  # Django answers: no such URL
        return number

    def to_url(self, value):
        return str(value)
