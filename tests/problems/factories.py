"""Factories for problem reports: a city area, a department, a two-level category tree."""

from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from problems import services
from problems.models import Category, CityArea, Department

# Lutsk-like box; a point in the middle.
BOX = (50.70, 50.80, 25.24, 25.42)
INSIDE = (50.7472, 25.3254)


def make_area(city, box=BOX) -> CityArea:
    south, north, west, east = box
    return CityArea.objects.create(
        city=city, min_lat=south, max_lat=north, min_lon=west, max_lon=east
    )


def make_tree(city, *, days: int = 5, email: str = "roads@city.example.org"):
    """(department, parent "Roads", leaf "Potholes")"""
    department = Department.objects.create(
        city=city,
        name_uk="Управління доріг",
        name_en="Roads department",
        answer_working_days=days,
        email=email,
    )
    roads = Category.objects.create(city=city, name_uk="Дороги", name_en="Roads")
    potholes = Category.objects.create(
        city=city, parent=roads, name_uk="Ями", name_en="Potholes", department=department
    )
    return department, roads, potholes


def jpeg_bytes(size=(64, 48), *, gps: bool = False, fmt: str = "JPEG") -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    out = io.BytesIO()
    kwargs = {}
    if gps:
        exif = Image.Exif()
        exif[0x010F] = "PhoneMaker"  # Make
        exif[0x8825] = {1: "N", 2: (50.0, 44.0, 50.0), 3: "E", 4: (25.0, 19.0, 31.0)}
        kwargs["exif"] = exif.tobytes()
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def photo_upload(name="photo.jpg", **kwargs) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, jpeg_bytes(**kwargs), content_type="image/jpeg")


def file_report(
    city,
    category,
    reporter,
    *,
    point=INSIDE,
    title="Глибока яма на перехресті",
    uploads=(),
    address="",
):
    return services.report_file(
        data=services.NewReport(
            city=city,
            category=category,
            title=title,
            description="Небезпечно для авто.",
            lat=point[0] if point else None,
            lon=point[1] if point else None,
            address=address,
        ),
        reporter=reporter,
        uploads=list(uploads),
    )
