"""Infrastructure every layer uses: errors, paths, limits, safe writes, the server's memory bound."""
