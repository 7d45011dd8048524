"""plots room (see STYLE.md)."""
