from __future__ import annotations
def linear_moments(): pass
