"""The bottom layer: the strict config base and shared field types. Imports nothing else of plait."""
