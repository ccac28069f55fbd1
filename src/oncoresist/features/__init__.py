"""Feature building: profile frames to the named feature matrix (scikit-learn API)."""
