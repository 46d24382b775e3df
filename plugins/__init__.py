"""scened's first-party plugins (installed as the package ``scened_plugins``).

Each module is registered through the ``scened`` entry-point group, exactly as a
third-party plugin would be.
"""
