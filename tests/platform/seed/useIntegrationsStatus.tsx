import { useState, useEffect } from 'react';

interface Integration {
  id: number;
  provider: string;
  accountId: string;
  accountName: string;
  status: 'connected' | 'expired';
  expiresAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export function useIntegrationsStatus() {
  const [integrations, setIntegrations] = useState<Integration[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    async function fetchIntegrations() {
      try {
        const response = await fetch('/api/integrations/status', {
          credentials: 'include',
        });

        const data = await response.json();

        if (data.success) {
          setIntegrations(data.data.integrations);
        } else {
          setError(data.error.message);
        }
      } catch (err) {
        setError('Failed to fetch integrations');
      } finally {
        setLoading(false);
      }
    }

    fetchIntegrations();
  }, []);

  return { integrations, loading, error };
}

// Usage in component
function IntegrationsPage() {
  const { integrations, loading, error } = useIntegrationsStatus();

  if (loading) return <div>Loading...</div>;
  if (error) return <div>Error: {error}</div>;

  return (
    <div>
      <h1>Connected Integrations</h1>
      {integrations.map(integration => (
        <div key={integration.id}>
          <h2>{integration.provider}</h2>
          <p>Account: {integration.accountName}</p>
          <p>Status: {integration.status}</p>
          {integration.status === 'expired' && (
            <button>Reconnect</button>
          )}
        </div>
      ))}
    </div>
  );
}
