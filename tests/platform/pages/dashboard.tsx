import { useSession } from "next-auth/react";

import { useIntegrationsStatus } from "../seed/useIntegrationsStatus";

// A platform page built on the API documentation's hook, used as published.
export default function Dashboard() {
  const { data: session } = useSession();
  const { integrations, loading, error } = useIntegrationsStatus();

  if (loading) return <p>Loading...</p>;
  if (error) return <p role="alert">Error: {error}</p>;
  return (
    <main>
      <h1>Dashboard</h1>
      <p id="signed-in-as">{session?.user?.name}</p>
      <ul id="hook-integrations">
        {integrations.map((integration) => (
          <li key={integration.id} data-provider={integration.provider}>
            {integration.provider} {integration.accountName} {integration.status}
          </li>
        ))}
      </ul>
    </main>
  );
}
