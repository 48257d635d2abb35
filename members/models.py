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


class StaffRole(models.Model):
    """Links a staff user to a city they serve, with a role."""

    class Role(models.TextChoices):
        MODERATOR = "moderator", _("moderator")
        RESPONDER = "responder", _("responder")
        CITY_ADMIN = "city_admin", _("city administrator")

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


class MembershipEvent(models.Model):
    """One change of a city's membership in the association. Current status = latest event."""

    class Status(models.TextChoices):
        CANDIDATE = "candidate", _("candidate")
        MEMBER = "member", _("member")
        SUSPENDED = "suspended", _("suspended")
        WITHDRAWN = "withdrawn", _("withdrawn")

    class Body(models.TextChoices):
        BOARD = "board", _("board")
        ASSEMBLY = "assembly", _("general assembly")
        FOUNDING = "founding", _("founding meeting")
        SECRETARIAT = "secretariat", _("secretariat")

    city = models.ForeignKey(
        City, verbose_name=_("city"), on_delete=models.CASCADE, related_name="membership_events"
    )
    status = models.CharField(_("status"), max_length=12, choices=Status.choices)
    founding = models.BooleanField(_("founding member"), default=False)
    effective_on = models.DateField(_("effective from"))
    decided_by = models.CharField(_("decided by"), max_length=12, choices=Body.choices)
    decision_date = models.DateField(_("decision date"), null=True, blank=True)
    decision_ref = models.CharField(_("decision reference"), max_length=100, blank=True)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("membership event")
        verbose_name_plural = _("membership history")
        ordering = ["city", "effective_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["city", "effective_on", "status"], name="membership_event_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(founding=False) | models.Q(status="member"),
                name="membership_founding_only_member",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.city}: {self.get_status_display()} ({self.effective_on})"


class EProduct(models.Model):
    """A municipal e-product (solution) in the best-practices catalogue."""

    class Category(models.TextChoices):
        E_DEMOCRACY = "e_democracy", _("e-democracy")
        E_SERVICES = "e_services", _("e-services")
        OPEN_DATA = "open_data", _("open data")
        INTERNAL = "internal", _("internal management")

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    description = models.TextField(_("description"), blank=True)
    developer = models.CharField(_("developer"), max_length=200, blank=True)
    licence = models.CharField(_("licence"), max_length=100, blank=True)
    link = models.URLField(_("link"), blank=True)

    class Meta:
        verbose_name = _("e-product")
        verbose_name_plural = _("e-products")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CityEService(models.Model):
    """A city runs an e-product since a date: the adoption record of the catalogue."""

    city = models.ForeignKey(
        City, verbose_name=_("city"), on_delete=models.CASCADE, related_name="eservices"
    )
    product = models.ForeignKey(
        EProduct, verbose_name=_("e-product"), on_delete=models.PROTECT, related_name="adoptions"
    )
    since = models.DateField(_("in use since"))
    results = models.TextField(_("note on results"), blank=True)

    class Meta:
        verbose_name = _("city e-service")
        verbose_name_plural = _("city e-services")
        ordering = ["city", "product"]
        constraints = [
            models.UniqueConstraint(fields=["city", "product"], name="city_eservice_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.city} — {self.product}"
