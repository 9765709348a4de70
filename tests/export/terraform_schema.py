"""The documented arguments of every Terraform block the export writes, transcribed from the providers' docs.

Sources (read at these commits):
- hashicorp/terraform-provider-azurerm website/docs/r/arc_kubernetes_cluster_extension.html.markdown
  (15c7bb7fd0d3cd4d050181970ef6d1e4e486c627)
- hashicorp/terraform-provider-azurerm website/docs/r/arc_kubernetes_flux_configuration.html.markdown
  (108dab9842de1c580b559951daf5cc04d3dc0f04)
- hashicorp/terraform-provider-azurerm website/docs/ephemeral-resources/key_vault_secret.html.markdown
  (0a830d4090cbb35bfe22f18df94eae5e9897a4d4)
- Azure/terraform-provider-azapi docs/resources/resource.md (0032257d144793c105afa33967c258a4119d33f5)
- Terraform's language: ``import`` (to, id; 1.5), ``variable`` (description, type, sensitive, ephemeral; 1.10),
  ``depends_on`` on every resource.
Timeouts, lifecycle and provider meta-arguments are documented too but never written, so not listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class BlockSchema:
    required: frozenset[str]
    optional: frozenset[str]
    blocks: dict[str, BlockSchema] = field(default_factory=dict)

    @property
    def allowed(self) -> frozenset[str]:
        return self.required | self.optional


def _schema(required: str, optional: str, **blocks: BlockSchema) -> BlockSchema:
    return BlockSchema(frozenset(required.split()), frozenset(optional.split()), blocks)


META = "depends_on"
IDENTITY_SYSTEM = _schema("type", "")
SERVICE_PRINCIPAL = _schema("client_id tenant_id", "client_certificate_base64 client_certificate_password "
                                                   "client_certificate_send_chain client_secret")

RESOURCES: dict[str, BlockSchema] = {
    "azurerm_arc_kubernetes_cluster_extension": _schema(
        "name cluster_id extension_type",
        f"configuration_protected_settings configuration_settings release_train release_namespace target_namespace "
        f"version {META}", identity=IDENTITY_SYSTEM),
    "azurerm_arc_kubernetes_flux_configuration": _schema(
        "name cluster_id namespace", f"scope continuous_reconciliation_enabled {META}",
        kustomizations=_schema("name", "path timeout_in_seconds sync_interval_in_seconds retry_interval_in_seconds "
                                       "recreating_enabled garbage_collection_enabled depends_on"),
        git_repository=_schema("url reference_type reference_value",
                               "https_ca_cert_base64 https_user https_key_base64 local_auth_reference "
                               "ssh_private_key_base64 ssh_known_hosts_base64 sync_interval_in_seconds "
                               "timeout_in_seconds"),
        bucket=_schema("bucket_name url", "access_key secret_key_base64 tls_enabled local_auth_reference "
                                          "sync_interval_in_seconds timeout_in_seconds"),
        blob_storage=_schema("container_id", "account_key local_auth_reference sas_token sync_interval_in_seconds "
                                             "timeout_in_seconds", service_principal=SERVICE_PRINCIPAL)),
    "azapi_resource": _schema(
        "type", f"body create_headers create_query_parameters delete_headers delete_query_parameters ignore_casing "
                f"ignore_missing_property ignore_null_property ignore_other_items_in_list list_unique_id_property "
                f"location locks name parent_id read_headers read_query_parameters replace_triggers_external_values "
                f"replace_triggers_refs response_export_values retry schema_validation_enabled sensitive_body "
                f"sensitive_body_version tags update_headers update_query_parameters {META}",
        identity=_schema("type", "identity_ids")),
}
EPHEMERAL: dict[str, BlockSchema] = {"azurerm_key_vault_secret": _schema("name key_vault_id", "version")}
IMPORT = _schema("to id", "")
VARIABLE = _schema("", "description type sensitive ephemeral")
# The block types azurerm's Arc resources have (a multiple-block argument such as kustomizations repeats)
AZAPI_IDENTITY_TYPES = frozenset({"SystemAssigned, UserAssigned", "UserAssigned", "SystemAssigned", "None"})
FLUX_REFERENCE_TYPES = frozenset({"branch", "commit", "semver", "tag"})
