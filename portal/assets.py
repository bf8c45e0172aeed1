"""Where the core's templates and static files live, checked out or installed.

In the repository they sit at the root, beside `portal/` (the layout the
product keeps); a built wheel carries them inside the package, as
`portal/templates` and `portal/static` (setup.cfg maps them there).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path


@cache
def asset_folder(name: str) -> Path:
    """The folder `name` ("templates" or "static") of this copy of Cartera."""
    package = files("portal")
    # Jinja and Starlette read plain folders, so a zipped install cannot work.
    if not isinstance(package, Path):
        raise RuntimeError(f"Cartera must be installed unzipped to find its {name}")
    installed = package / name
    if installed.is_dir():
        return installed.resolve()
    # Only a checkout may look beside the package: in site-packages a folder
    # of that name would belong to some other distribution.
    checkout = package.parent
    if (checkout / "setup.cfg").is_file() and (checkout / name).is_dir():
        return (checkout / name).resolve()
    raise FileNotFoundError(f"Cartera's {name} folder is missing from {package}")
