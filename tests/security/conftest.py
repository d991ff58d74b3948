"""Attacks on the gate, one module per class: amplification, bodies, flooding, CPU, 5xx."""
