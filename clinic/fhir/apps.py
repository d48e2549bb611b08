from django.apps import AppConfig


class FhirConfig(AppConfig):
    """The read-only HL7 FHIR R4 interface: the top layer, which nothing imports."""

    name = "clinic.fhir"
    label = "fhir"
    verbose_name = "FHIR interface"
    clinic_area = True  # its URLs are found like every area's (clinic.areas)
