"""The ground every service stands on: the hromadas and the staff who serve them."""

from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class City(models.Model):
    """A territorial community (hromada). Every app's rows belong to one."""

    katottg = models.CharField(_("KATOTTG code"), max_length=19, unique=True)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    name_uk = models.CharField(_("name (Ukrainian)"), max_length=120)
    name_en = models.CharField(_("name (English)"), max_length=120)
    raion_uk = models.CharField(_("raion"), max_length=120, blank=True)
    oblast_uk = models.CharField(_("oblast (Ukrainian)"), max_length=80, db_index=True)
    oblast_en = models.CharField(_("oblast (English)"), max_length=80)
    population = models.PositiveIntegerField(_("population"), null=True, blank=True)
    website = models.URLField(_("website"), blank=True)
    # The body petitions are addressed to and that answers them: «Луцька міська рада».
    council_name_uk = models.CharField(_("council (Ukrainian)"), max_length=160, blank=True)
    council_name_en = models.CharField(_("council (English)"), max_length=160, blank=True)
    edem_petitions = models.BooleanField(_("uses e-petitions (E-DEM)"), default=False)
    edem_participatory_budget = models.BooleanField(
        _("uses participatory budget (E-DEM)"), default=False
    )

    class Meta:
        verbose_name = _("city")
        verbose_name_plural = _("cities")
        ordering = ["name_uk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(katottg__regex=r"^UA[0-9]{17}$"), name="city_katottg_format"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.name_en if get_language() == "en" else self.name_uk

    @property
    def oblast(self) -> str:
        return self.oblast_en if get_language() == "en" else self.oblast_uk

    @property
    def full_name(self) -> str:
        # Hromada names in the codifier are adjectives: "Луцька" → "Луцька громада".
        return f"{self.name_en} hromada" if get_language() == "en" else f"{self.name_uk} громада"

    @property
    def council_name(self) -> str:
        """The council by its official name, in the nominative («Луцька міська рада»)."""
        if get_language() == "en":
            return self.council_name_en or default_council_name_en(self.name_en)
        return self.council_name_uk or default_council_name_uk(self.name_uk)


def _genitive_feminine(word: str) -> str:
    # Hromada names are feminine adjectives: «Луцька» → «Луцької», «Верхня» → «Верхньої».
    if word.endswith("я"):
        return word[:-1] + "ьої"
    if word.endswith("а"):
        return word[:-1] + "ої"
    return word


def default_council_name_uk(name_uk: str) -> str:
    """«Рада Луцької громади»: right for a city, a settlement or a village hromada alike."""
    return "Рада " + " ".join(_genitive_feminine(w) for w in name_uk.split()) + " громади"


def default_council_name_en(name_en: str) -> str:
    return f"Council of {name_en} hromada"


class StaffRole(models.Model):
    """Links a staff user to a city they serve, with a role."""

    class Role(models.TextChoices):
        MODERATOR = "moderator", _("moderator")
        RESPONDER = "responder", _("responder")
        CITY_ADMIN = "city_admin", _("city administrator")
        # Enters paper signatures and ballots at an administrative service centre (ЦНАП).
        SERVICE_CLERK = "service_clerk", _("service centre clerk")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="staff_roles",
    )
    city = models.ForeignKey(
        City, verbose_name=_("city"), on_delete=models.CASCADE, related_name="staff_roles"
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("city staff role")
        verbose_name_plural = _("city staff roles")
        constraints = [
            models.UniqueConstraint(fields=["user", "city", "role"], name="staffrole_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.city} ({self.get_role_display()})"
