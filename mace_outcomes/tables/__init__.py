"""tables room (see STYLE.md)."""
