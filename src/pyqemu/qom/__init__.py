"""QOM, the object model: types, objects, properties, paths, devices and buses."""
from pyqemu.qom.object import (
    AmbiguousPathError,
    Container,
    Object,
    ObjectProperty,
    QOMError,
    object_new,
    resolve_path,
    type_lookup,
    type_names,
)

__all__ = ["AmbiguousPathError", "Container", "Object", "ObjectProperty", "QOMError", "object_new",
           "resolve_path", "type_lookup", "type_names"]
