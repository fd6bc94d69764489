"""Built-in Impasto plugins: one package each. They use ``core``, never each other."""
