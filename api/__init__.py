"""Scopekeeper: the back office API of a fixed-price software shop."""
