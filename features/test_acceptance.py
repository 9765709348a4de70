"""Binds every feature file under features/ to pytest; the steps come from the arcpolicy plugin."""

from pytest_bdd import scenarios

scenarios(".")
