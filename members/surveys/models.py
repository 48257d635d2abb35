"""Survey state. The rules that must hold whatever code runs live in the database:
one response per council per wave (unique), a questionnaire version accepts no edits once
an answer has arrived (PostgreSQL triggers in migration 0002), typed answers in range."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from members.models import CityEService, EProduct
from opencity.cities.models import City

# The code of the "other, please say" answer of a choice question (its text in Answer.other_text).
OTHER = "other"


class _Bilingual:
    """`text` in the active language, falling back to Ukrainian."""

    def _pick(self, field: str) -> str:
        if get_language() == "en":
            return getattr(self, f"{field}_en") or getattr(self, f"{field}_uk")
        return getattr(self, f"{field}_uk")


class Questionnaire(models.Model):
    title_uk = models.CharField(_("title (Ukrainian)"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200, blank=True)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "members"
        verbose_name = _("questionnaire")
        verbose_name_plural = _("questionnaires")
        ordering = ["title_uk"]

    def __str__(self) -> str:
        return _Bilingual._pick(self, "title")

    @property
    def title(self) -> str:
        return _Bilingual._pick(self, "title")


class QuestionnaireVersion(models.Model):
    """The questions as councils saw them. Locked (read-only, enforced by a trigger) from the
    first response on; a change is made on a new version (services.version_copy)."""

    questionnaire = models.ForeignKey(
        Questionnaire,
        verbose_name=_("questionnaire"),
        on_delete=models.PROTECT,
        related_name="versions",
    )
    number = models.PositiveSmallIntegerField(_("version"))
    locked_at = models.DateTimeField(_("locked at"), null=True, blank=True, editable=False)
    intro_uk = models.TextField(_("introduction (Ukrainian)"), blank=True)
    intro_en = models.TextField(_("introduction (English)"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "members"
        verbose_name = _("questionnaire version")
        verbose_name_plural = _("questionnaire versions")
        ordering = ["questionnaire", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["questionnaire", "number"], name="survey_version_unique_number"
            ),
            models.CheckConstraint(condition=models.Q(number__gte=1), name="survey_version_gte1"),
        ]

    def __str__(self) -> str:
        return f"{self.questionnaire} v{self.number}"

    @property
    def intro(self) -> str:
        return _Bilingual._pick(self, "intro")


class Section(models.Model, _Bilingual):
    version = models.ForeignKey(
        QuestionnaireVersion,
        verbose_name=_("version"),
        on_delete=models.CASCADE,
        related_name="sections",
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    title_uk = models.CharField(_("title (Ukrainian)"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200, blank=True)

    class Meta:
        app_label = "members"
        verbose_name = _("section")
        verbose_name_plural = _("sections")
        ordering = ["version", "order", "id"]

    def __str__(self) -> str:
        return self.title

    @property
    def title(self) -> str:
        return self._pick("title")


class Question(models.Model, _Bilingual):
    class Kind(models.TextChoices):
        SINGLE = "single", _("single choice")
        MULTIPLE = "multiple", _("multiple choice")
        NUMBER = "number", _("number")
        SHORT_TEXT = "short_text", _("short text")
        LONG_TEXT = "long_text", _("long text")
        SCALE = "scale", _("scale")
        YES_NO = "yes_no", _("yes / no")
        MATRIX = "matrix", _("matrix over the e-services catalogue")

    CHOICE_KINDS = (Kind.SINGLE, Kind.MULTIPLE)
    TEXT_KINDS = (Kind.SHORT_TEXT, Kind.LONG_TEXT)

    section = models.ForeignKey(
        Section, verbose_name=_("section"), on_delete=models.CASCADE, related_name="questions"
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    code = models.SlugField(
        _("code"),
        max_length=40,
        help_text=_("Stays the same across versions, so waves can be compared."),
    )
    kind = models.CharField(_("type"), max_length=12, choices=Kind.choices)
    text_uk = models.TextField(_("question (Ukrainian)"))
    text_en = models.TextField(_("question (English)"), blank=True)
    help_uk = models.CharField(_("hint (Ukrainian)"), max_length=300, blank=True)
    help_en = models.CharField(_("hint (English)"), max_length=300, blank=True)
    required = models.BooleanField(_("required"), default=False)
    min_value = models.IntegerField(_("minimum"), null=True, blank=True)
    max_value = models.IntegerField(_("maximum"), null=True, blank=True)
    allow_other = models.BooleanField(_("“other, please say”"), default=False)
    show_if_question = models.ForeignKey(
        "self",
        verbose_name=_("shown only if question"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="dependents",
    )
    show_if_value = models.CharField(
        _("has the answer"),
        max_length=40,
        blank=True,
        help_text=_("A choice code, or “yes” / “no”."),
    )

    class Meta:
        app_label = "members"
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        ordering = ["section__order", "section_id", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["section", "code"], name="survey_question_code"),
            models.CheckConstraint(
                condition=models.Q(min_value__isnull=True)
                | models.Q(max_value__isnull=True)
                | models.Q(max_value__gte=models.F("min_value")),
                name="survey_question_range",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="scale")
                | (models.Q(min_value__isnull=False) & models.Q(max_value__isnull=False)),
                name="survey_question_scale_bounds",
            ),
            models.CheckConstraint(
                condition=models.Q(show_if_question__isnull=True, show_if_value="")
                | (models.Q(show_if_question__isnull=False) & ~models.Q(show_if_value="")),
                name="survey_question_condition_complete",
            ),
            models.CheckConstraint(
                condition=models.Q(allow_other=False) | models.Q(kind__in=["single", "multiple"]),
                name="survey_question_other_only_choices",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code}: {self.text[:60]}"

    @property
    def text(self) -> str:
        return self._pick("text")

    @property
    def help(self) -> str:
        return self._pick("help")

    def options(self, other_label: str) -> list[tuple[str, str]]:
        """(code, label) of a choice question's answers, "other" last where it is allowed: the
        form, the results and the comparison list the same answers in the same order."""
        options = [(c.value, c.label) for c in self.choices.all()]
        if self.allow_other:
            options.append((OTHER, other_label))
        return options


class Choice(models.Model, _Bilingual):
    question = models.ForeignKey(
        Question, verbose_name=_("question"), on_delete=models.CASCADE, related_name="choices"
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    value = models.SlugField(_("code"), max_length=40)
    label_uk = models.CharField(_("label (Ukrainian)"), max_length=200)
    label_en = models.CharField(_("label (English)"), max_length=200, blank=True)

    class Meta:
        app_label = "members"
        verbose_name = _("choice")
        verbose_name_plural = _("choices")
        ordering = ["question", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["question", "value"], name="survey_choice_unique"),
            models.CheckConstraint(
                condition=~models.Q(value=OTHER), name="survey_choice_other_reserved"
            ),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return self._pick("label")


class Wave(models.Model):
    """One sending of a questionnaire version to chosen councils (e.g. "2025")."""

    class Audience(models.TextChoices):
        MEMBERS = "members", _("all member councils")
        OBLAST = "oblast", _("the councils of one oblast")
        TIER = "tier", _("the councils of one tier")

    version = models.ForeignKey(
        QuestionnaireVersion,
        verbose_name=_("version"),
        on_delete=models.PROTECT,
        related_name="waves",
    )
    name = models.CharField(_("name"), max_length=100)
    audience = models.CharField(_("sent to"), max_length=10, choices=Audience.choices)
    audience_value = models.CharField(
        _("oblast or tier"), max_length=80, blank=True, help_text=_("For an oblast or a tier.")
    )
    opens_on = models.DateField(_("opens on"))
    closes_on = models.DateField(_("closes on"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True, editable=False)
    counted_at = models.DateTimeField(
        _("results counted at"), null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "members"
        verbose_name = _("survey wave")
        verbose_name_plural = _("survey waves")
        ordering = ["-opens_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes_on__gte=models.F("opens_on")), name="survey_wave_period"
            ),
            models.CheckConstraint(
                condition=models.Q(audience="members", audience_value="")
                | (~models.Q(audience="members") & ~models.Q(audience_value="")),
                name="survey_wave_audience_value",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version.questionnaire} — {self.name}"


class Invitation(models.Model):
    """A council's personal link for one wave. `nonce` is signed into the link; a new nonce
    (re-sending) makes the older link refused."""

    wave = models.ForeignKey(
        Wave, verbose_name=_("wave"), on_delete=models.CASCADE, related_name="invitations"
    )
    city = models.ForeignKey(
        City, verbose_name=_("council"), on_delete=models.PROTECT, related_name="survey_invitations"
    )
    email = models.EmailField(_("sent to"))
    nonce = models.CharField(max_length=32, editable=False)
    sent_at = models.DateTimeField(_("sent at"))
    reminded_7_at = models.DateTimeField(_("reminded after 7 days"), null=True, blank=True)
    reminded_14_at = models.DateTimeField(_("reminded after 14 days"), null=True, blank=True)

    class Meta:
        app_label = "members"
        verbose_name = _("survey invitation")
        verbose_name_plural = _("survey invitations")
        ordering = ["wave", "city__name_uk"]
        constraints = [
            models.UniqueConstraint(fields=["wave", "city"], name="survey_invitation_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.wave} — {self.city}"


class Response(models.Model):
    """A council's answers for one wave: a draft any of its staff with the link may continue,
    then submitted once. One per council per wave, whatever its status (a unique constraint),
    so there can never be two submitted responses."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        SUBMITTED = "submitted", _("submitted")

    wave = models.ForeignKey(
        Wave, verbose_name=_("wave"), on_delete=models.PROTECT, related_name="responses"
    )
    city = models.ForeignKey(
        City, verbose_name=_("council"), on_delete=models.PROTECT, related_name="survey_responses"
    )
    version = models.ForeignKey(
        QuestionnaireVersion,
        verbose_name=_("version"),
        on_delete=models.PROTECT,
        related_name="responses",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    respondent = models.CharField(_("filled in by"), max_length=150, blank=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "members"
        verbose_name = _("survey response")
        verbose_name_plural = _("survey responses")
        ordering = ["wave", "city__name_uk"]
        constraints = [
            models.UniqueConstraint(fields=["wave", "city"], name="survey_response_one_per_wave"),
            models.CheckConstraint(
                condition=models.Q(status="draft") | models.Q(submitted_at__isnull=False),
                name="survey_response_submitted_has_time",
            ),
        ]
        indexes = [models.Index(fields=["wave", "status"], name="survey_response_wave_status")]

    def __str__(self) -> str:
        return f"{self.wave} — {self.city}"


class Answer(models.Model):
    """One question's answer. `choice` holds single/yes-no/scale answers (scale as its number
    in text) so one GROUP BY counts every discrete question; `choices` the multiple ones."""

    response = models.ForeignKey(
        Response, verbose_name=_("response"), on_delete=models.CASCADE, related_name="answers"
    )
    question = models.ForeignKey(
        Question, verbose_name=_("question"), on_delete=models.PROTECT, related_name="answers"
    )
    choice = models.CharField(max_length=40, blank=True)
    choices = models.JSONField(default=list, blank=True)
    number = models.IntegerField(null=True, blank=True)
    text = models.TextField(blank=True)
    other_text = models.CharField(max_length=300, blank=True)

    class Meta:
        app_label = "members"
        verbose_name = _("answer")
        verbose_name_plural = _("answers")
        constraints = [
            models.UniqueConstraint(fields=["response", "question"], name="survey_answer_unique"),
        ]
        indexes = [models.Index(fields=["question", "choice"], name="survey_answer_q_choice")]

    def __str__(self) -> str:
        return f"{self.response} — {self.question.code}"


class MatrixAnswer(models.Model):
    """One e-product row of a matrix question: runs it since a year, plans to, or no."""

    class Status(models.TextChoices):
        RUNS = "runs", _("runs it")
        PLANS = "plans", _("plans to")
        NO = "no", _("no")

    response = models.ForeignKey(
        Response, verbose_name=_("response"), on_delete=models.CASCADE, related_name="matrix"
    )
    question = models.ForeignKey(
        Question, verbose_name=_("question"), on_delete=models.PROTECT, related_name="matrix"
    )
    product = models.ForeignKey(
        EProduct, verbose_name=_("e-product"), on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(_("status"), max_length=6, choices=Status.choices)
    since_year = models.PositiveSmallIntegerField(_("since"), null=True, blank=True)
    catalogue_entry = models.ForeignKey(
        CityEService,
        verbose_name=_("accepted into the catalogue as"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="survey_sources",
    )
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "members"
        verbose_name = _("matrix answer")
        verbose_name_plural = _("matrix answers")
        constraints = [
            models.UniqueConstraint(
                fields=["response", "question", "product"], name="survey_matrix_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(since_year__isnull=True) | models.Q(status="runs"),
                name="survey_matrix_since_only_runs",
            ),
            models.CheckConstraint(
                condition=models.Q(since_year__isnull=True)
                | models.Q(since_year__gte=1991, since_year__lte=2100),
                name="survey_matrix_since_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.response} — {self.product_id}: {self.status}"


class ResultCount(models.Model):
    """Pre-counted results of a wave (members.surveys.counting), one row per question, answer
    value (or matrix e-product and status) and group of councils (oblast, tier, size band),
    so the results page sums a few hundred rows instead of counting every answer. Rows with
    no question hold the wave's invited and answered councils. Derived data: rebuilt whole
    by `results_count`, never edited."""

    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="counts")
    question = models.ForeignKey(Question, null=True, on_delete=models.CASCADE, related_name="+")
    product = models.ForeignKey(EProduct, null=True, on_delete=models.CASCADE, related_name="+")
    value = models.CharField(max_length=40, blank=True)
    oblast = models.CharField(max_length=80, blank=True)
    tier = models.CharField(max_length=12)
    size = models.CharField(max_length=10, blank=True)
    n = models.PositiveIntegerField()
    total = models.BigIntegerField(null=True)  # number questions: sum, lowest, highest
    low = models.IntegerField(null=True)
    high = models.IntegerField(null=True)

    class Meta:
        app_label = "members"
        constraints = [
            models.UniqueConstraint(
                fields=["wave", "question", "product", "value", "oblast", "tier", "size"],
                nulls_distinct=False,
                name="survey_count_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.wave_id}/{self.question_id}/{self.product_id}/{self.value}: {self.n}"
