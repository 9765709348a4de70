# Fixtures shared by the shipped policies' unit tests.
package arcpolicy.lib.fixtures_test

connected_cluster(distribution, tags) := {
	"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Kubernetes/connectedClusters/c1",
	"name": "c1",
	"type": "Microsoft.Kubernetes/connectedClusters",
	"tags": tags,
	"properties": {"distribution": distribution},
}

managed_cluster := {
	"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerService/managedClusters/a1",
	"name": "a1",
	"type": "Microsoft.ContainerService/managedClusters",
	"tags": {},
	"properties": {},
}

extension(name, extension_type, properties) := {
	"id": concat("/", [connected_cluster("k3s", {}).id, "providers/Microsoft.KubernetesConfiguration/extensions", name]),
	"name": name,
	"type": "Microsoft.KubernetesConfiguration/extensions",
	"properties": object.union({"extensionType": extension_type, "provisioningState": "Succeeded"}, properties),
}

k3s := {
	"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Kubernetes/connectedClusters/k3s",
	"name": "k3s",
	"type": "Microsoft.Kubernetes/connectedClusters",
	"tags": {"environment": "production"},
	"properties": {"distribution": "k3s"},
}
