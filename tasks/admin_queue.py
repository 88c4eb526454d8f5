"""Admin for assignments and judgments."""
