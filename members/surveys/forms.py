"""The council's fill-in form, built from a questionnaire version. It validates formats,
ranges, required questions (on submit) and conditions: a question hidden by its condition
must stay empty. Errors keep everything typed (the bound form is shown again)."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import EProduct
from members.surveys.models import (
    OTHER,
    Answer,
    MatrixAnswer,
    Question,
    QuestionnaireVersion,
    Response,
)
from members.surveys.services import AnswerValue

YES_NO = [("yes", _("Yes")), ("no", _("No"))]


@dataclass
class Item:
    question: Question
    field: forms.BoundField | None = None
    other: forms.BoundField | None = None
    rows: list[tuple[EProduct, forms.BoundField, forms.BoundField]] = dc_field(default_factory=list)
    condition: str = ""  # "Answer only if …", for readers without JavaScript
    control_name: str = ""


def name(question: Question) -> str:
    return f"q{question.pk}"


def version_structure(version: QuestionnaireVersion) -> list[tuple]:
    """[(section, [question, …]), …] with choices prefetched: three queries."""
    questions = list(
        Question.objects.filter(section__version=version)
        .select_related("section", "show_if_question")
        .prefetch_related("choices")
        .order_by("section__order", "section_id", "order", "id")
    )
    sections: dict[int, tuple] = {}
    for q in questions:
        sections.setdefault(q.section_id, (q.section, []))[1].append(q)
    return list(sections.values())


class SurveyForm(forms.Form):
    respondent = forms.CharField(
        label=_("Your name and position (optional)"), max_length=150, required=False
    )

    def __init__(self, *args, version: QuestionnaireVersion, submitting: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.version = version
        self.submitting = submitting
        self.structure = version_structure(version)
        self.questions = [q for _s, qs in self.structure for q in qs]
        self.by_pk = {q.pk: q for q in self.questions}
        has_matrix = any(q.kind == Question.Kind.MATRIX for q in self.questions)
        self.products = list(EProduct.objects.order_by("name")) if has_matrix else []
        for q in self.questions:
            self._add_fields(q)

    def _add_fields(self, q: Question) -> None:
        k, n = q.kind, name(q)
        label = q.text
        if k in Question.CHOICE_KINDS:
            choices = q.options(_("Other, please say"))
            widget = (
                forms.RadioSelect if k == Question.Kind.SINGLE else forms.CheckboxSelectMultiple
            )
            cls = forms.ChoiceField if k == Question.Kind.SINGLE else forms.MultipleChoiceField
            self.fields[n] = cls(label=label, choices=choices, widget=widget, required=False)
            if q.allow_other:
                self.fields[f"{n}_other"] = forms.CharField(
                    label=_("Other (please say)"), max_length=300, required=False
                )
        elif k == Question.Kind.YES_NO:
            self.fields[n] = forms.ChoiceField(
                label=label, choices=YES_NO, widget=forms.RadioSelect, required=False
            )
        elif k == Question.Kind.SCALE:
            choices = [(str(v), str(v)) for v in range(q.min_value, q.max_value + 1)]
            self.fields[n] = forms.ChoiceField(
                label=label, choices=choices, widget=forms.RadioSelect, required=False
            )
        elif k == Question.Kind.NUMBER:
            validators = []
            if q.min_value is not None:
                validators.append(MinValueValidator(q.min_value, _range_message(q)))
            if q.max_value is not None:
                validators.append(MaxValueValidator(q.max_value, _range_message(q)))
            self.fields[n] = forms.IntegerField(
                label=label,
                required=False,
                validators=validators,
                error_messages={"invalid": _("Enter a whole number.")},
            )
            self.fields[n].widget.attrs.update(
                {"inputmode": "numeric"}
                | ({"min": q.min_value} if q.min_value is not None else {})
                | ({"max": q.max_value} if q.max_value is not None else {})
            )
        elif k in Question.TEXT_KINDS:
            long = k == Question.Kind.LONG_TEXT
            self.fields[n] = forms.CharField(
                label=label,
                required=False,
                max_length=5000 if long else 300,
                widget=forms.Textarea(attrs={"rows": 4}) if long else forms.TextInput,
            )
        elif k == Question.Kind.MATRIX:
            this_year = timezone.localdate().year
            for p in self.products:
                self.fields[f"{n}_{p.pk}"] = forms.ChoiceField(
                    label=p.name,
                    choices=MatrixAnswer.Status.choices,
                    widget=forms.RadioSelect,
                    required=False,
                )
                self.fields[f"{n}_{p.pk}_since"] = forms.IntegerField(
                    label=_("since (year)"),
                    required=False,
                    min_value=1991,
                    max_value=this_year,
                    error_messages={
                        "min_value": _("Enter a year from 1991 to %(limit_value)s.")
                        % {"limit_value": this_year},
                        "max_value": _("Enter a year from 1991 to %(limit_value)s.")
                        % {"limit_value": this_year},
                        "invalid": _("Enter a year, e.g. 2019."),
                    },
                )

    # --- condition logic (the same rules the JavaScript applies on screen) ---
    def _raw(self, q: Question):
        value = self.cleaned_data.get(name(q))
        if q.kind == Question.Kind.MATRIX:
            return None
        return value

    def visible(self, q: Question, _depth: int = 0) -> bool:
        controller = q.show_if_question
        if controller is None:
            return True
        if _depth > 20 or controller.pk not in self.by_pk:
            return False
        if not self.visible(self.by_pk[controller.pk], _depth + 1):
            return False
        value = self._raw(controller)
        if isinstance(value, list):
            return q.show_if_value in value
        return str(value or "") == q.show_if_value

    def _is_empty(self, q: Question) -> bool:
        n = name(q)
        if q.kind == Question.Kind.MATRIX:
            return not any(
                self.cleaned_data.get(f"{n}_{p.pk}") or self.cleaned_data.get(f"{n}_{p.pk}_since")
                for p in self.products
            )
        value = self.cleaned_data.get(n)
        other = self.cleaned_data.get(f"{n}_other")
        return value in (None, "", []) and not other

    def clean(self):
        data = super().clean()
        for q in self.questions:
            n = name(q)
            if any(key == n or key.startswith(f"{n}_") for key in self.errors):
                continue
            if not self.visible(q):
                if not self._is_empty(q):
                    controller = self.by_pk.get(q.show_if_question_id) or q.show_if_question
                    self.add_error(
                        n if n in self.fields else None,
                        _(
                            "This question applies only if the answer to “%(question)s” is "
                            "“%(answer)s”. Clear this answer or change that one."
                        )
                        % {
                            "question": controller.text,
                            "answer": _value_label(controller, q.show_if_value),
                        },
                    )
                continue
            if q.kind in Question.CHOICE_KINDS and q.allow_other:
                ticked = _ticked_other(data.get(n))
                said = (data.get(f"{n}_other") or "").strip()
                if ticked and not said:
                    self.add_error(f"{n}_other", _("Say what the other answer is."))
                elif said and not ticked:
                    self.add_error(f"{n}_other", _("Tick “Other” too, or clear this box."))
            if q.kind == Question.Kind.MATRIX:
                for p in self.products:
                    status = data.get(f"{n}_{p.pk}")
                    since = data.get(f"{n}_{p.pk}_since")
                    if since and status != MatrixAnswer.Status.RUNS:
                        self.add_error(f"{n}_{p.pk}_since", _("A year goes with “runs it” only."))
                    elif self.submitting and status == MatrixAnswer.Status.RUNS and not since:
                        self.add_error(f"{n}_{p.pk}_since", _("Say since which year."))
                    elif self.submitting and q.required and not status:
                        self.add_error(f"{n}_{p.pk}", _("Choose one answer for this e-service."))
                continue
            if self.submitting and q.required and self._is_empty(q):
                self.add_error(n, _("This question is required."))
        return data

    def answers(self) -> dict[int, AnswerValue]:
        """The visible, non-empty answers, for services.response_save."""
        out: dict[int, AnswerValue] = {}
        for q in self.questions:
            if not self.visible(q) or self._is_empty(q):
                continue
            n, value = name(q), self.cleaned_data.get(name(q))
            if q.kind == Question.Kind.MATRIX:
                matrix = {}
                for p in self.products:
                    status = self.cleaned_data.get(f"{n}_{p.pk}")
                    if status:
                        matrix[p.pk] = (status, self.cleaned_data.get(f"{n}_{p.pk}_since"))
                if matrix:
                    out[q.pk] = AnswerValue(matrix=matrix)
            elif q.kind == Question.Kind.MULTIPLE:
                out[q.pk] = AnswerValue(choices=list(value or []), other_text=self._other(q))
            elif q.kind == Question.Kind.NUMBER:
                out[q.pk] = AnswerValue(number=value)
            elif q.kind in Question.TEXT_KINDS:
                out[q.pk] = AnswerValue(text=value.strip())
            else:
                out[q.pk] = AnswerValue(choice=value or "", other_text=self._other(q))
        return out

    def _other(self, q: Question) -> str:
        """The "other, please say" text (clean refuses it without "other" ticked)."""
        return (self.cleaned_data.get(f"{name(q)}_other") or "").strip()

    def layout(self) -> list[tuple]:
        """[(section, [Item, …]), …] for the template."""
        out = []
        for section, questions in self.structure:
            items = []
            for q in questions:
                n = name(q)
                item = Item(question=q)
                if q.kind == Question.Kind.MATRIX:
                    item.rows = [
                        (p, self[f"{n}_{p.pk}"], self[f"{n}_{p.pk}_since"]) for p in self.products
                    ]
                else:
                    item.field = self[n]
                    if f"{n}_other" in self.fields:
                        item.other = self[f"{n}_other"]
                if q.show_if_question_id:
                    controller = self.by_pk.get(q.show_if_question_id)
                    if controller:
                        item.control_name = name(controller)
                        item.condition = _(
                            "Answer only if the answer to “%(question)s” is “%(answer)s”."
                        ) % {
                            "question": controller.text,
                            "answer": _value_label(controller, q.show_if_value),
                        }
                items.append(item)
            out.append((section, items))
        return out


def _ticked_other(picked: str | list[str] | None) -> bool:
    """Whether a single (a code) or multiple (a list of codes) answer ticked "other" (a code
    such as "another" is not "other")."""
    if isinstance(picked, str):
        return picked == OTHER
    return OTHER in (picked or [])


def _range_message(q: Question) -> str:
    if q.min_value is not None and q.max_value is not None:
        return _("Enter a number from %(min)s to %(max)s.") % {
            "min": q.min_value,
            "max": q.max_value,
        }
    if q.min_value is not None:
        return _("Enter a number of at least %(min)s.") % {"min": q.min_value}
    return _("Enter a number of at most %(max)s.") % {"max": q.max_value}


def _value_label(q: Question, value: str) -> str:
    if q.kind == Question.Kind.YES_NO:
        return str(dict(YES_NO).get(value, value))
    for c in q.choices.all():
        if c.value == value:
            return c.label
    return value


def initial_from(response: Response | None, form_version: QuestionnaireVersion) -> dict:
    """A saved draft as the form's initial data."""
    if response is None:
        return {}
    initial: dict = {"respondent": response.respondent}
    for a in Answer.objects.filter(response=response).select_related("question"):
        n = f"q{a.question_id}"
        kind = a.question.kind
        if kind == Question.Kind.MULTIPLE:
            initial[n] = a.choices
        elif kind == Question.Kind.NUMBER:
            initial[n] = a.number
        elif kind in Question.TEXT_KINDS:
            initial[n] = a.text
        else:
            initial[n] = a.choice
        if a.other_text:
            initial[f"{n}_other"] = a.other_text
    for m in MatrixAnswer.objects.filter(response=response):
        initial[f"q{m.question_id}_{m.product_id}"] = m.status
        if m.since_year:
            initial[f"q{m.question_id}_{m.product_id}_since"] = m.since_year
    return initial
