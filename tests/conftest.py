"""Shared fixtures for all test suites.

Nothing is shared yet; browser-only fixtures live in ``tests/browser/conftest.py``
so that plain unit tests never start Playwright.
"""
