"""The what-if controls: ipywidgets that collect settings and re-run the comparison on every change.

Results are not drawn inside the widgets but in an ordinary output below them, updated in place: a
saved notebook or an HTML export then keeps the last result with the settings it was computed with,
even where no widget can be shown.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

from recovery_sim.domain.enums import DunningAction
from recovery_sim.experiments.executors import InlineExecutor
from recovery_sim.notebook import whatif
from recovery_sim.settings.config import RENEWAL_REMINDER_DAYS, Scenario

CUSTOMER_CHOICES = (1_000, 2_000, 5_000, 10_000, 20_000)
EXPORT_NOTE = (
    "<p><i>Controls of the what-if: open the notebook in JupyterLab to change them. "
    "The result below lists the settings it was computed with.</i></p>"
)


def _executor(workers: int) -> Executor:
    """One pool for the panel's life, so every change reuses warm workers; 1 worker: in the kernel."""
    if workers == 1:
        return InlineExecutor()
    context = multiprocessing.get_context("spawn")  # polars' threads do not survive a fork
    return ProcessPoolExecutor(max_workers=workers or None, mp_context=context)


class WidgetWithNote:
    """A widget that shows as a short note where widgets cannot be drawn (HTML exports)."""

    def __init__(self, widget: Any, fallback_html: str) -> None:
        self.widget, self.fallback_html = widget, fallback_html

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        return self.widget._repr_mimebundle_(**kwargs) | {"text/html": self.fallback_html}


class PolicyPanel:
    """Controls for the R4-R9 switches, retries, the end action, the world and the currency shown."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        preset: str = "recommended-minimum",
        baseline: str = "none",
        replications: int = 5,
        seed: int = 7,
        workers: int = 0,
        currency: str | None = None,
    ) -> None:
        import ipywidgets as widgets

        self.scenario, self.baseline = scenario, baseline
        self.replications, self.seed = replications, seed
        self.executor = _executor(workers)
        self.result: whatif.WhatIf | None = None
        self._holding = False
        self._handle = None
        self.controls = self._build_controls(widgets, scenario, preset, currency)
        self.status = widgets.Label()
        self.load_preset(preset)
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.refresh()

    # -------------------------------------------------------------------------------------- settings

    def settings(self) -> dict[str, Any]:
        """What the controls hold now (the currency only chooses what is shown)."""
        return {key: c.value for key, c in self.controls.items() if key != "currency"}

    def rerun(self, settings: dict[str, Any] | None = None) -> whatif.WhatIf:
        """The what-if for `settings` (default: the controls'), computed without touching the display."""
        return whatif.what_if(
            self.settings() if settings is None else settings,
            self.scenario,
            baseline=self.baseline,
            replications=self.replications,
            seed=self.seed,
            executor=self.executor,
            currency=self.controls["currency"].value,
        )

    @property
    def table(self):
        return None if self.result is None else self.result.table

    @property
    def chart(self):
        return None if self.result is None else self.result.chart

    def load_preset(self, name: str) -> None:
        """Set every policy control from a shipped policy; the world and currency stay as they are."""
        values = whatif.settings_for(name, self.scenario)
        held, self._holding = self._holding, True
        try:
            for key in [*whatif.EMAIL_SWITCHES, "emails.upcoming_renewal_days", "end_action"]:
                self.controls[key].value = values[key]
            for key in ("retries.mode", "retries.max_attempts", "retries.window_days"):
                self.controls[key].value = values[key]
        finally:
            self._holding = held

    # --------------------------------------------------------------------------------------- running

    def refresh(self) -> None:
        """Re-run the comparison for the controls and redraw the result below them."""
        self.status.value = "running…"
        try:
            self.result = self.rerun()
        except ValueError as exc:  # settings the validation rejects (ConfigError, pydantic): say so
            self.status.value = f"not run: {exc}"
            return
        self.status.value = (
            f"{self.replications} paired replications against {self.baseline} in {self.result.seconds:.1f} s"
        )
        if self.controls["currency"].value != self.result.currency:
            held, self._holding = self._holding, True
            self.controls["currency"].value = self.result.currency
            self._holding = held
        self._redraw()

    def _redraw(self) -> None:
        if self._handle is not None:
            self._handle.update(self.result)

    def _on_change(self, change: dict) -> None:
        if self._holding:  # a preset is setting several controls: one re-run at the end
            return
        if change["owner"] is self.controls["currency"]:  # only what is shown: no re-run
            if self.result is not None and change["new"] in self.result.comparison.currencies:
                self.result = dataclasses.replace(self.result, currency=change["new"])
                self._redraw()
            return
        if change["owner"] is self.controls["preset"]:
            self.load_preset(change["new"])
        self.refresh()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(WidgetWithNote(self._layout(), EXPORT_NOTE))
        self._handle = display(self.result or "no result: see the status line", display_id=True)

    # ---------------------------------------------------------------------------------------- layout

    def _build_controls(self, widgets, scenario: Scenario, preset: str, currency: str | None) -> dict:
        def slider(kind, description: str, **options: Any):
            return kind(
                description=description,
                continuous_update=False,
                style={"description_width": "110px"},
                **options,
            )

        currencies = sorted({p.currency for c in scenario.cohorts for p in c.plans})
        return {
            "preset": widgets.Dropdown(options=whatif.presets(), value=preset, description="Start from"),
            **{
                key: widgets.Checkbox(description=label, indent=False, layout=widgets.Layout(width="280px"))
                for key, label in whatif.EMAIL_SWITCHES.items()
            },
            "emails.upcoming_renewal_days": widgets.Dropdown(
                options=list(RENEWAL_REMINDER_DAYS), description="Renewal days"
            ),
            "retries.mode": widgets.ToggleButtons(options=["smart", "fixed"], description="Retries"),
            "retries.max_attempts": slider(widgets.IntSlider, "Attempts", min=1, max=12),
            "retries.window_days": slider(widgets.FloatSlider, "Window (days)", min=1, max=28, step=1),
            "end_action": widgets.Dropdown(
                options=[(a.value.replace("_", " "), a.value) for a in DunningAction],
                description="At the end",
            ),
            "customers": widgets.Dropdown(
                options=sorted({*CUSTOMER_CHOICES, scenario.customers}), value=scenario.customers,
                description="Customers",
            ),
            "failure_rate_factor": slider(
                widgets.FloatSlider, "Failures ×", value=1.0, min=0.5, max=3.0, step=0.25
            ),
            "card_updater_rate": slider(
                widgets.FloatSlider, "Card updater", value=scenario.card_updater_rate, min=0, max=1,
                step=0.05, readout_format=".0%",
            ),
            "currency": widgets.Dropdown(
                options=currencies, value=currency if currency in currencies else None, description="Currency"
            ),
        }  # fmt: skip

    def _layout(self):
        import ipywidgets as widgets

        c = self.controls
        emails = widgets.VBox(
            [widgets.HTML("<b>Emails</b>"), c["preset"], *(c[k] for k in whatif.EMAIL_SWITCHES),
             c["emails.upcoming_renewal_days"]]
        )  # fmt: skip
        dunning = [
            c[k] for k in ("retries.mode", "retries.max_attempts", "retries.window_days", "end_action")
        ]
        world = [c[k] for k in ("customers", "failure_rate_factor", "card_updater_rate", "currency")]
        right = widgets.VBox(
            [widgets.HTML("<b>Dunning</b>"), *dunning, widgets.HTML("<b>Scenario and display</b>"), *world]
        )
        return widgets.VBox([widgets.HBox([emails, right]), self.status])


def policy_panel(scenario: Scenario | None = None, **options: Any) -> PolicyPanel:
    """What-if controls on `scenario` (default: the shipped default); see `PolicyPanel` for `options`."""
    return PolicyPanel(Scenario.default() if scenario is None else scenario, **options)
