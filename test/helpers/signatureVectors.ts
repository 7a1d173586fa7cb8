import { sharedHubSpotFile } from '../webhooks/fixtures/delivery.js'

/** One HubSpot request signature case from the shared signature-test-vectors.json. */
export interface SignatureVector {
  id: string
  version: 'v1' | 'v2' | 'v3'
  secret: string
  method: string | null
  uri: string | null
  /** The URI as HubSpot signed it, where it differs from `uri`. */
  signedUri?: string
  body: string
  timestamp: string | null
  expected: string
  /** The signature a verifier that skips the v3 URI decoding would compute. */
  expectedIfUriNotDecoded?: string
}

/** Every vector of the shared file, in file order. */
export const signatureVectors = sharedHubSpotFile<{ vectors: SignatureVector[] }>('signature-test-vectors.json').vectors
