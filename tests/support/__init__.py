"""What the tests share: fixtures (registered by tests/conftest.py through pytest_plugins) and helpers.

A test module uses any fixture by naming it as an argument, without importing it. The helpers
(`index_user`, `cognito_fault`, `csv_bytes`, ...) are imported from the module that defines them.
"""
