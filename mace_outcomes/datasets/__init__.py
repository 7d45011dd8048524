"""datasets room (see STYLE.md)."""
