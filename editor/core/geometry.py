"""Integer rectangles in document or layer coordinates."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rect:
    """Axis-aligned rectangle ``[x, x + w) x [y, y + h)``; empty when w or h <= 0."""

    x: int
    y: int
    w: int
    h: int

    def __post_init__(self) -> None:
        if type(self.x) is int and type(self.y) is int and type(self.w) is int and type(self.h) is int:
            return
        for name in ("x", "y", "w", "h"):
            value = getattr(self, name)
            if not isinstance(value, int):
                # numpy integers are fine but must be stored as plain ints (hashing, JSON).
                try:
                    object.__setattr__(self, name, int(value))
                except (TypeError, ValueError):
                    raise TypeError(f"Rect.{name} must be an integer, got {value!r}") from None

    @classmethod
    def from_bounds(cls, x0: int, y0: int, x1: int, y1: int) -> "Rect":
        return cls(x0, y0, x1 - x0, y1 - y0)

    @classmethod
    def coerce(cls, value) -> "Rect":
        """A Rect from a Rect or an (x, y, w, h) sequence."""
        if isinstance(value, Rect):
            return value
        try:
            x, y, w, h = value
        except (TypeError, ValueError):
            raise TypeError(f"expected a Rect or (x, y, w, h), got {value!r}") from None
        return cls(x, y, w, h)

    def __iter__(self):
        return iter((self.x, self.y, self.w, self.h))

    @classmethod
    def empty(cls) -> "Rect":
        return cls(0, 0, 0, 0)

    @property
    def x0(self) -> int:
        return self.x

    @property
    def y0(self) -> int:
        return self.y

    @property
    def x1(self) -> int:
        return self.x + self.w

    @property
    def y1(self) -> int:
        return self.y + self.h

    @property
    def is_empty(self) -> bool:
        return self.w <= 0 or self.h <= 0

    @property
    def area(self) -> int:
        return 0 if self.is_empty else self.w * self.h

    @property
    def slices(self) -> tuple[slice, slice]:
        """(slice_y, slice_x) to index an array with this rect (rect must be inside it)."""
        return slice(self.y, self.y + max(self.h, 0)), slice(self.x, self.x + max(self.w, 0))

    @property
    def bounds(self) -> tuple[int, int, int, int]:
        return self.x, self.y, self.x1, self.y1

    def union(self, other: "Rect | None") -> "Rect":
        """Smallest rect holding both; an empty rect does not count."""
        if other is None or other.is_empty:
            return self
        if self.is_empty:
            return other
        return Rect.from_bounds(
            min(self.x, other.x), min(self.y, other.y), max(self.x1, other.x1), max(self.y1, other.y1)
        )

    def intersect(self, other: "Rect") -> "Rect":
        x0, y0 = max(self.x, other.x), max(self.y, other.y)
        x1, y1 = min(self.x1, other.x1), min(self.y1, other.y1)
        if x1 <= x0 or y1 <= y0:
            return Rect(x0, y0, 0, 0)
        return Rect.from_bounds(x0, y0, x1, y1)

    def intersects(self, other: "Rect") -> bool:
        return not self.intersect(other).is_empty

    def contains(self, other: "Rect") -> bool:
        return other.x >= self.x and other.y >= self.y and other.x1 <= self.x1 and other.y1 <= self.y1

    def translate(self, dx: int, dy: int) -> "Rect":
        return Rect(self.x + dx, self.y + dy, self.w, self.h)

    def inflate(self, n: int) -> "Rect":
        return Rect(self.x - n, self.y - n, self.w + 2 * n, self.h + 2 * n)

    def clip(self, width: int, height: int) -> "Rect":
        """This rect clipped to ``[0, width) x [0, height)``."""
        return self.intersect(Rect(0, 0, width, height))

    @classmethod
    def of_array(cls, array, offset: tuple[int, int] = (0, 0)) -> "Rect":
        """The rect an array covers when its pixel (0, 0) sits at ``offset``."""
        return cls(int(offset[0]), int(offset[1]), int(array.shape[1]), int(array.shape[0]))
