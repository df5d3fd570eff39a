/** A broker of several nodes, pure parts: the URL list, which nodes are down, the route status it gives. */
import type { EventRoute } from '@warren/crds';
import { brokerSettings } from '../src/broker/settings';
import { nodesDown } from '../src/broker/nodes';
import { routeStatusFor } from '../src/controller/route-status';
import { route } from './resources';

describe('a list of management URLs', () => {
  it('takes every node, comma-separated, and keeps the first as managementUrl', () => {
    const settings = brokerSettings(
      {},
      {
        RABBITMQ_URL: 'amqp://w:pw@rabbit-0:5672',
        RABBITMQ_MANAGEMENT_URL: 'http://w:pw@rabbit-0:15672, http://w:pw@rabbit-1:15672,',
      },
    );
    expect(settings.managementUrls).toEqual([
      'http://w:pw@rabbit-0:15672',
      'http://w:pw@rabbit-1:15672',
    ]);
    expect(settings.managementUrl).toBe('http://w:pw@rabbit-0:15672');
  });

  it('keeps one URL (given, or derived from the AMQP URL) working as before', () => {
    expect(
      brokerSettings({ managementUrl: 'http://w:pw@rabbit:15672' }, {}).managementUrls,
    ).toEqual(['http://w:pw@rabbit:15672']);
    expect(brokerSettings({}, { RABBITMQ_URL: 'amqp://w:pw@rabbit:5672' })).toMatchObject({
      managementUrl: 'http://w:pw@rabbit:15672/',
      managementUrls: ['http://w:pw@rabbit:15672/'],
    });
  });

  it('names a bad entry without its password', () => {
    for (const bad of ['w:secret@rabbit-1:15672', '//w:secret@rabbit-1']) {
      const settings = () =>
        brokerSettings({}, { RABBITMQ_MANAGEMENT_URL: `http://w:pw@rabbit-0:15672,${bad}` });
      expect(settings).toThrow(/management URL ".*\*\*\*@rabbit-1.*" is not an http\(s\) URL/);
      expect(settings).not.toThrow(/secret/);
    }
  });
});

describe('nodes down, and what a route says about them', () => {
  it('lists the nodes the cluster reports not running', () => {
    expect(
      nodesDown([
        { name: 'rabbit@c', running: false },
        { name: 'rabbit@a', running: true },
        { name: 'rabbit@b', running: false },
      ]),
    ).toEqual(['rabbit@b', 'rabbit@c']);
    expect(nodesDown([{ name: 'rabbit@a', running: true }])).toEqual([]);
  });

  const synced = (r: EventRoute, down?: string[]) =>
    routeStatusFor(
      r,
      {
        objects: {
          route: 'default/r',
          vhost: '/',
          queue: 'q',
          deadLetterQueue: null,
          retryQueues: [],
          deletionPolicy: 'Retain',
          objects: [],
        },
        nodesDown: down,
      },
      new Date('2026-12-01T00:00:00Z'),
    );
  const condition = (status: EventRoute['status'], type: string) =>
    status?.conditions?.find((c) => c.type === type);

  it('a short cluster: Ready stays True, Degraded names the node; back to full: Degraded False', () => {
    const r = route('r');
    const short = synced(r, ['rabbit-2@localhost']);
    expect(condition(short, 'Ready')).toMatchObject({ status: 'True', reason: 'Synced' });
    expect(condition(short, 'Degraded')).toMatchObject({
      status: 'True',
      reason: 'BrokerNodeDown',
      message:
        'RabbitMQ node rabbit-2@localhost down: the cluster is short, its other nodes serve the route',
    });
    const after = synced({ ...r, status: short }, []);
    expect(condition(after, 'Degraded')).toMatchObject({ status: 'False', reason: 'Synced' });
    expect(condition(after, 'Ready')).toMatchObject({ status: 'True' });
  });
});
