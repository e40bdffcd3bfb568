import { MerkleTree, memberLeaf } from "@excraft/chain";
import { Signature, type Wallet } from "ethers";
import type { Fixture } from "../scripts/lib/fixture.ts";

/** Signs a Congress ballot the way MetaMask's eth_signTypedData_v4 does. */
export async function signBallot(
  f: Fixture,
  signer: Wallet,
  proposalId: bigint,
  support: boolean,
  voter = signer.address,
) {
  const sig = await signer.signTypedData(
    {
      name: "ExCraft Congress",
      version: "1",
      chainId: 31337,
      verifyingContract: f.deployment.contracts.Congress,
    },
    {
      Ballot: [
        { name: "proposalId", type: "uint256" },
        { name: "support", type: "bool" },
        { name: "voter", type: "address" },
      ],
    },
    { proposalId, support, voter },
  );
  return Signature.from(sig).serialized;
}

/** Signs a Senate ballot (EIP-712 SenateBallot). */
export async function signSenateBallot(
  f: Fixture,
  signer: Wallet,
  voteId: bigint,
  poolId: bigint,
  support: boolean,
  poe: bigint,
) {
  return signer.signTypedData(
    {
      name: "ExCraft Senate",
      version: "1",
      chainId: 31337,
      verifyingContract: f.deployment.contracts.Senate,
    },
    {
      SenateBallot: [
        { name: "voteId", type: "uint256" },
        { name: "poolId", type: "uint256" },
        { name: "support", type: "bool" },
        { name: "poe", type: "uint256" },
      ],
    },
    { voteId, poolId, support, poe },
  );
}

/** A Congress term over `members` (addresses), with proofs by address. */
export function congressTree(members: string[]) {
  const tree = new MerkleTree(members.map(memberLeaf));
  const index = new Map(members.map((m, i) => [m.toLowerCase(), i]));
  return {
    root: tree.root,
    proof: (addr: string) => {
      const i = index.get(addr.toLowerCase());
      return i === undefined ? [] : tree.proof(i);
    },
  };
}
