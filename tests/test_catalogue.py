"""The procedure catalogue seeded from the clinical reference, and its management."""

from django.urls import reverse

from clinic.models import ProcedureType
from tests.factories import ProcedureTypeFactory

SPINAL_INJECTIONS = [
    "esi-interlaminar",
    "esi-transforaminal",
    "esi-caudal",
    "facet-injection",
    "medial-branch-block",
    "nerve-root-block",
    "si-joint-injection",
]


def test_it_seeds_every_procedure_of_the_reference(db):
    codes = set(ProcedureType.objects.values_list("code", flat=True))
    assert {
        *SPINAL_INJECTIONS,
        "rfa",
        "peripheral-nerve-block",
        "scs-trial",
        "scs-implant",
        "intrathecal-pump",
        "epiduroscopy",
        "percutaneous-discectomy",
        "vertebroplasty",
        "kyphoplasty",
        "discography",
    } == codes


def test_it_requires_fluoroscopy_for_the_spinal_injections(db):
    for code in SPINAL_INJECTIONS:
        assert "fluoroscopy" in ProcedureType.objects.get(code=code).required_capabilities


def test_it_seeds_the_asra_bleeding_risk_categories(db):
    risk = dict(ProcedureType.objects.values_list("code", "bleeding_risk"))
    assert risk["scs-trial"] == risk["vertebroplasty"] == risk["epiduroscopy"] == "high"
    assert risk["esi-transforaminal"] == risk["medial-branch-block"] == "intermediate"
    assert risk["si-joint-injection"] == risk["peripheral-nerve-block"] == "low"


def test_it_computes_room_time_from_setup_procedure_and_turnover(db):
    rfa = ProcedureType.objects.get(code="rfa")
    assert rfa.room_minutes == rfa.setup_minutes + 45 + rfa.turnover_minutes


def test_it_lets_a_manager_edit_the_catalogue(client, manager):
    rfa = ProcedureType.objects.get(code="rfa")
    client.force_login(manager)
    form = client.get(reverse("procedure_type_edit", args=[rfa.pk])).context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(
        recovery_minutes=50,
        regions=["lumbar"],
        required_capabilities=["fluoroscopy", "rf_generator"],
    )
    data = {k: v for k, v in data.items() if not (isinstance(v, bool) and not v)}
    response = client.post(reverse("procedure_type_edit", args=[rfa.pk]), data)
    assert response.status_code == 302, response.context["form"].errors
    rfa.refresh_from_db()
    assert (rfa.recovery_minutes, rfa.regions) == (50, ["lumbar"])
    assert rfa.history.first().history_user == manager


def test_it_explains_invalid_catalogue_values(client, manager):
    client.force_login(manager)
    response = client.post(
        reverse("procedure_type_create"),
        {
            "code": "rfa",
            "name": "X",
            "category": "diagnostic",
            "procedure_minutes": 2,
            "setup_minutes": 0,
            "turnover_minutes": 0,
            "recovery_minutes": 0,
            "bleeding_risk": "low",
            "typical_sedation": "none",
            "regions": ["neck"],
        },
    )
    errors = response.context["form"].errors
    assert "already exists" in str(errors["code"])
    assert "greater than or equal to 5" in str(errors["procedure_minutes"])
    assert "Select a valid choice" in str(errors["regions"])


def test_it_lists_and_exports_the_catalogue(client, nurse):
    client.force_login(nurse)
    page = client.get(reverse("procedure_type_list")).content.decode()
    assert "Radiofrequency ablation" in page
    csv = client.get(reverse("procedure_type_list"), {"_export": "csv"}).content.decode()
    assert csv.count("\n") >= 18


def test_it_keeps_the_catalogue_query_count_flat(client, nurse, assert_query_count_flat):
    client.force_login(nurse)
    made = iter(range(10_000))

    def add_types(count):
        for _ in range(count):
            n = next(made)
            ProcedureTypeFactory(
                code=f"extra-{n}",
                name=f"Extra {n}",
                category="diagnostic",
                procedure_minutes=10,
                bleeding_risk="low",
            )

    assert_query_count_flat(client, reverse("procedure_type_list"), add_types)
