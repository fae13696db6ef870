"""QOM: the type registry, objects with typed properties, child<> and link<> properties, paths.

A QOM type is a Python class with a ``TYPE`` name: subclassing registers it
(its parent is the Python base class; ``ABSTRACT`` and ``INTERFACES`` as in
QEMU's TypeInfo). Class properties are declared in ``class_init`` (called once
per class for its own table: it does not call the parent's), instance
properties with ``property_add``/``add_child``/``add_link``.
Objects form a composition tree through child<> properties; an object's
canonical path is where that tree holds it. ``resolve_path`` accepts absolute
paths and QEMU's partial paths (a suffix that must match exactly one place).

Property order in listings is QEMU's: its hash-table order (see ``ghash``),
instance properties first, then each class's from the most derived up,
which ``qom-list`` prints reversed.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from pyqemu.qom.ghash import GHashOrder


class QOMError(Exception):
    """A QOM operation failed; the message is QEMU's."""


class AmbiguousPathError(QOMError):
    def __init__(self, path: str) -> None:
        super().__init__(f"Path '{path}' is ambiguous")
        self.path = path


Getter = Callable[["Object"], Any]
Setter = Callable[["Object", Any], None]


@dataclass
class ObjectProperty:
    """One property: ``type`` is QEMU's type string (``uint32``, ``child<pl011>``, ``link<bus>``)."""
    name: str
    type: str
    get: Getter | None = None
    set: Setter | None = None
    description: str | None = None
    child: Object | None = None                      # for child<T>
    link: Callable[[Object], Object | None] | None = None  # for link<T>

    @property
    def is_child(self) -> bool:
        return self.child is not None


class PropertyTable:
    """Properties by name, remembering GLib's hash order for listings."""

    def __init__(self) -> None:
        self.by_name: dict[str, ObjectProperty] = {}
        self.order = GHashOrder()

    def add(self, prop: ObjectProperty) -> None:
        self.by_name[prop.name] = prop
        self.order.insert(prop.name)

    def remove(self, name: str) -> None:
        del self.by_name[name]
        self.order.remove(name)

    def in_hash_order(self) -> list[ObjectProperty]:
        return [self.by_name[k] for k in self.order.keys()]


_TYPES: dict[str, type[Object]] = {}


def type_lookup(name: str) -> type[Object] | None:
    return _TYPES.get(name)


def type_names(parent: str | None = None, include_abstract: bool = False) -> list[str]:
    """Registered type names, optionally only those that are ``parent`` or derive from it."""
    out = []
    for name, cls in _TYPES.items():
        if (include_abstract or not cls.__dict__.get("ABSTRACT", False)) and (
                parent is None or cls.is_type(parent)):
            out.append(name)
    return sorted(out)


def object_new(type_name: str, **kwargs: Any) -> Object:
    cls = _TYPES.get(type_name)
    if cls is None:
        raise QOMError(f"unknown type '{type_name}'")
    if cls.__dict__.get("ABSTRACT", False):
        raise QOMError(f"object type '{type_name}' is abstract")
    return cls(**kwargs)


class Object:
    """The root of every QOM type (QEMU TYPE_OBJECT)."""

    TYPE: ClassVar[str] = "object"
    ABSTRACT: ClassVar[bool] = True
    INTERFACES: ClassVar[tuple[str, ...]] = ()
    _class_props: ClassVar[PropertyTable]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "TYPE" in cls.__dict__:
            if cls.TYPE in _TYPES and _TYPES[cls.TYPE].__qualname__ != cls.__qualname__:
                raise TypeError(f"QOM type '{cls.TYPE}' registered twice")
            _TYPES[cls.TYPE] = cls
        if "ABSTRACT" not in cls.__dict__:
            cls.ABSTRACT = False
        cls._class_props = PropertyTable()
        if "class_init" in cls.__dict__:
            cls.class_init()

    @classmethod
    def class_init(cls) -> None:
        cls.class_property_add("type", "string", lambda o: o.type_name)

    @classmethod
    def class_property_add(cls, name: str, type_: str, get: Getter | None = None,
                           set_: Setter | None = None, description: str | None = None) -> None:
        cls._class_props.add(ObjectProperty(name, type_, get, set_, description))

    @classmethod
    def class_link_add(cls, name: str, target_type: str, get: Callable[[Object], Object | None],
                       description: str | None = None) -> None:
        """A class-wide ``link<T>`` property: reads as the target's path, and paths follow it."""
        cls._class_props.add(ObjectProperty(name, f"link<{target_type}>", description=description,
                                            link=get))

    @classmethod
    def is_type(cls, name: str) -> bool:
        """Whether this class is ``name``, derives from it, or implements interface ``name``."""
        return any(getattr(c, "TYPE", None) == name or name in c.__dict__.get("INTERFACES", ())
                   for c in cls.__mro__ if issubclass(c, Object))

    def __init__(self) -> None:
        self._props = PropertyTable()
        self.parent: Object | None = None
        self.name: str | None = None  # the child<> property that holds it

    @property
    def type_name(self) -> str:
        return type(self).TYPE

    # -- properties ------------------------------------------------------------------------------
    def property_add(self, name: str, type_: str, get: Getter | None = None, set_: Setter | None = None,
                     description: str | None = None) -> ObjectProperty:
        if self.property_find(name) is not None:
            raise QOMError(f"attempt to add duplicate property '{name}' to object "
                           f"(type '{self.type_name}')")
        prop = ObjectProperty(name, type_, get, set_, description)
        self._props.add(prop)
        return prop

    def property_del(self, name: str) -> None:
        prop = self._props.by_name.get(name)
        if prop is None:
            raise QOMError(f"Property '{self.type_name}.{name}' not found")
        self._props.remove(name)
        if prop.child is not None:
            prop.child.parent = None
            prop.child.name = None

    def property_find(self, name: str) -> ObjectProperty | None:
        prop = self._props.by_name.get(name)
        if prop is not None:
            return prop
        for c in type(self).__mro__:
            table = c.__dict__.get("_class_props")
            if table is not None and name in table.by_name:
                return table.by_name[name]
        return None

    def properties(self) -> Iterator[ObjectProperty]:
        """In QEMU's iteration order: instance properties, then class properties up the chain."""
        yield from self._props.in_hash_order()
        for c in type(self).__mro__:
            table = c.__dict__.get("_class_props")
            if table is not None:
                yield from table.in_hash_order()

    def property_get(self, name: str) -> Any:
        prop = self.property_find(name)
        if prop is None:
            raise QOMError(f"Property '{self.type_name}.{name}' not found")
        if prop.child is not None:
            return prop.child.canonical_path()
        if prop.link is not None:
            target = prop.link(self)
            return target.canonical_path() if target is not None else ""
        if prop.get is None:
            raise QOMError(f"Property '{self.type_name}.{name}' is not readable")
        return prop.get(self)

    def property_set(self, name: str, value: Any) -> None:
        prop = self.property_find(name)
        if prop is None:
            raise QOMError(f"Property '{self.type_name}.{name}' not found")
        if prop.set is None:
            raise QOMError(f"Property '{self.type_name}.{name}' is not writable")
        prop.set(self, value)

    # -- composition -------------------------------------------------------------------------------
    def add_child(self, name: str, child: Object) -> Object:
        """Add ``child`` as ``child<T>`` property ``name``; ``foo[*]`` takes the first free ``foo[N]``."""
        if child.parent is not None:
            raise QOMError(f"object '{child.name}' is already a child of "
                           f"'{child.parent.canonical_path()}'")
        if name.endswith("[*]"):
            stem = name[:-3]
            i = 0
            while self.property_find(f"{stem}[{i}]") is not None:
                i += 1
            name = f"{stem}[{i}]"
        prop = self.property_add(name, f"child<{child.type_name}>")
        prop.child = child
        child.parent = self
        child.name = name
        return child

    def add_link(self, name: str, target_type: str, get: Callable[[Object], Object | None],
                 description: str | None = None) -> ObjectProperty:
        """A ``link<T>`` property: reads as the target's path ('' when unset)."""
        prop = self.property_add(name, f"link<{target_type}>", description=description)
        prop.link = get
        return prop

    def children(self) -> Iterator[tuple[str, Object]]:
        """Child objects in QEMU's iteration order (``info qom-tree`` sorts them itself)."""
        for p in self._props.in_hash_order():
            if p.child is not None:
                yield p.name, p.child

    def child(self, name: str) -> Object | None:
        prop = self._props.by_name.get(name)
        return prop.child if prop is not None else None

    def unparent(self) -> None:
        if self.parent is not None and self.name is not None:
            self.parent.property_del(self.name)

    def root(self) -> Object:
        obj = self
        while obj.parent is not None:
            obj = obj.parent
        return obj

    def canonical_path(self) -> str:
        parts = []
        obj: Object | None = self
        while obj is not None and obj.parent is not None:
            parts.append(obj.name or "")
            obj = obj.parent
        return "/" + "/".join(reversed(parts))

    def __repr__(self) -> str:
        return f"<{self.type_name} {self.canonical_path() if self.parent else '(detached)'}>"

    # -- paths -----------------------------------------------------------------------------------
    def resolve_component(self, part: str) -> Object | None:
        prop = self.property_find(part)
        if prop is None:
            return None
        if prop.child is not None:
            return prop.child
        if prop.link is not None:
            return prop.link(self)
        return None

    def resolve_abs(self, parts: list[str]) -> Object | None:
        obj: Object | None = self
        for part in parts:
            if obj is None:
                return None
            if part:
                obj = obj.resolve_component(part)
        return obj


class Container(Object):
    """A plain holder of children (QEMU TYPE_CONTAINER)."""
    TYPE = "container"

    def get_or_add(self, name: str) -> Container:
        child = self.child(name)
        if child is None:
            child = self.add_child(name, Container())
        assert isinstance(child, Container)
        return child


class ForeignObject(Object):
    """An object another subsystem keeps (a chardev), shown in the tree under its type name."""

    def __init__(self, type_name: str) -> None:
        super().__init__()
        self._type_name = type_name

    @property
    def type_name(self) -> str:
        return self._type_name


class MirrorContainer(Container):
    """A container whose children mirror another registry: ``source()`` lists (name, type)
    pairs in creation order; the children follow it whenever the tree is read."""

    def __init__(self, source: Callable[[], list[tuple[str, str]]]) -> None:
        super().__init__()
        self._source = source
        self._syncing = False

    def _sync(self) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            want = self._source()
            names = {n for n, _ in want}
            for name, _ in list(self.children()):
                if name not in names:
                    self.property_del(name)
            for name, type_name in want:
                child = self.child(name)
                if child is None or child.type_name != type_name:
                    if child is not None:
                        self.property_del(name)
                    self.add_child(name, ForeignObject(type_name))
        finally:
            self._syncing = False

    def properties(self) -> Iterator[ObjectProperty]:
        self._sync()
        return super().properties()

    def property_find(self, name: str) -> ObjectProperty | None:
        self._sync()
        return super().property_find(name)

    def children(self) -> Iterator[tuple[str, Object]]:
        self._sync()
        return super().children()


def resolve_path(root: Object, path: str, type_name: str | None = None) -> Object | None:
    """QEMU's object_resolve_path_type: absolute, or partial (AmbiguousPathError if it
    matches more than one object); None when nothing matches."""
    parts = path.split("/") if path else []  # "" is a partial path that matches everything
    if parts and parts[0] == "":
        obj = root.resolve_abs(parts[1:])
        return obj if obj is None or type_name is None or type(obj).is_type(type_name) else None
    found = _resolve_partial(root, parts, type_name)
    if found is _AMBIGUOUS:
        raise AmbiguousPathError(path)
    return found  # type: ignore[return-value]


_AMBIGUOUS = object()


def _resolve_partial(parent: Object, parts: list[str], type_name: str | None) -> object:
    obj: object = parent.resolve_abs(parts)
    if obj is not None and type_name is not None and not type(obj).is_type(type_name):
        obj = None
    for _, child in parent.children():
        found = _resolve_partial(child, parts, type_name)
        if found is _AMBIGUOUS:
            return _AMBIGUOUS
        if found is not None:
            if obj is not None:
                return _AMBIGUOUS
            obj = found
    return obj


Object._class_props = PropertyTable()
Object.class_init()  # the base's own class properties ("type")
_TYPES["object"] = Object
