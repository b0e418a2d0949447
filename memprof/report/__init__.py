"""Rendering results: tables (table/CSV/JSON/Markdown) and matplotlib plots."""
