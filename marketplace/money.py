"""Money as people read it: integer minor units and a currency code as text (cents stay in the API, the
database and the ledger). One implementation for the consoles, the web app and messages."""


def money_text(cents, currency: str = "usd") -> str:
    """10040, "usd" -> "100.40 USD"; None -> "—". Integer arithmetic only (no floats); two-decimal currencies,
    as the ledger's are."""
    if cents is None:
        return "—"
    cents = int(cents)
    sign = "-" if cents < 0 else ""
    units, rest = divmod(abs(cents), 100)
    return f"{sign}{units:,}.{rest:02d} {str(currency).upper()}"
