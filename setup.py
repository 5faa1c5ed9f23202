"""Package list: kerasprop's packages, plus presets/ installed as kerasprop/_presets.

kerasprop.hub.catalog finds bundled presets in presets/ beside the package (a
checkout) or in kerasprop/_presets (an installed wheel). The rest of the
configuration is in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["kerasprop", "kerasprop.*"]) + ["kerasprop._presets"],
    package_dir={"kerasprop._presets": "presets"},
)
