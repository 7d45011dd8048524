"""report room (see STYLE.md)."""
