"""weighting room (see STYLE.md)."""
