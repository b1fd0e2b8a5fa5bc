// NextAuth v4 as a creator platform configures it: a Credentials provider and JWT sessions.
// NEXTAUTH_URL and NEXTAUTH_SECRET come from the environment, as in production.
import NextAuth, { type AuthOptions } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";

// The creators this platform knows, given by the test as JSON: {email: {id, name, password}}.
// Their ids are the service's user ids.
type Creator = { id: string; name: string; password: string };
const creators: Record<string, Creator> = JSON.parse(process.env.PLATFORM_CREATORS ?? "{}");

export const authOptions: AuthOptions = {
  session: { strategy: "jwt" },
  providers: [
    CredentialsProvider({
      name: "email and password",
      credentials: {
        email: { label: "Email", type: "email" },
        password: { label: "Password", type: "password" },
      },
      async authorize(credentials) {
        const creator = credentials ? creators[credentials.email] : undefined;
        if (!creator || creator.password !== credentials?.password) return null;
        return { id: creator.id, name: creator.name, email: credentials.email };
      },
    }),
  ],
};

export default NextAuth(authOptions);
