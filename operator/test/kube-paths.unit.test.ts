import { resourceOfPath } from '../src/kube/client';

describe('resourceOfPath (the resource label of warren_kube_api_requests_total)', () => {
  it.each([
    ['/api/v1/namespaces/shop/configmaps/warren-topology-orders', 'configmaps'],
    ['/api/v1/namespaces/shop/secrets?labelSelector=a%3Db', 'secrets'],
    ['/api/v1/namespaces/shop/events', 'events'],
    ['/api/v1/namespaces', 'namespaces'],
    ['/api/v1/namespaces/shop', 'namespaces'],
    ['/apis/warren.dev/v1alpha1/namespaces/shop/eventroutes/orders/status', 'eventroutes/status'],
    ['/apis/warren.dev/v1alpha1/eventroutes', 'eventroutes'],
    ['/apis/coordination.k8s.io/v1/namespaces/warren/leases/warren-operator', 'leases'],
    ['/apis/batch/v1/namespaces/shop/jobs/migrate-1', 'jobs'],
    ['/apis/warren.dev/v1alpha1', 'unknown'],
  ])('%s -> %s', (path, resource) => {
    expect(resourceOfPath(path)).toBe(resource);
  });
});
