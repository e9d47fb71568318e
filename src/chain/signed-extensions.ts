import { Metadata, TypeRegistry } from '@polkadot/types';
import { allExtensions } from '@polkadot/types/extrinsic/signedExtensions';
import type { ExtDef } from '@polkadot/types/extrinsic/signedExtensions/types';
import type { Si1LookupTypeId } from '@polkadot/types/interfaces/scaleInfo';
import type { HexString } from '@polkadot/util/types';

/**
 * The transaction extensions a runtime declares, as its metadata names them. `type` is what
 * the extension adds to the extrinsic; `implicit` (`additionalSigned` before metadata v16) is
 * what it adds to the signed payload only.
 */
export interface DeclaredExtension {
  readonly identifier: string;
  readonly type: number;
  readonly implicit: number;
}

export interface DerivedExtensions {
  /** Every extension the runtime declares, in signing order. */
  readonly identifiers: readonly string[];
  /** The `signedExtensions` option for `ApiPromise` (types for the extensions polkadot-js lacks). */
  readonly userExtensions: ExtDef;
  /** Unknown extensions whose signed payload needs a value polkadot-js cannot supply. */
  readonly unsignable: readonly string[];
}

/**
 * Types for the runtime's transaction extensions that `@polkadot/types` does not know, read
 * from the runtime's own metadata. polkadot-js treats an unknown extension as empty, which is
 * wrong for e.g. subtensor's `ChargeTransactionPaymentWrapper` (a `Compact<Balance>` tip) and
 * makes every signed extrinsic undecodable; here each unknown extension gets the type the
 * metadata declares (the default value is sent, i.e. a zero tip).
 */
export function deriveSignedExtensions(metadataHex: HexString): DerivedExtensions {
  const registry = new TypeRegistry();
  const metadata = new Metadata(registry, metadataHex);
  // Registering the lookup resolves `Lookup<id>` names to the runtime's own types.
  registry.setMetadata(metadata, undefined, undefined, true);
  const declared = declaredExtensions(metadata);
  const lookup = registry.lookup;
  const userExtensions: ExtDef = {};
  const unsignable: string[] = [];
  for (const extension of declared) {
    if (extension.identifier in allExtensions) continue;
    const field = lowerFirst(extension.identifier);
    const extrinsic = isEmptyType(lookup, extension.type)
      ? {}
      : { [field]: typeString(lookup, extension.type) };
    const payload = isEmptyType(lookup, extension.implicit)
      ? {}
      : { [`${field}Implicit`]: typeString(lookup, extension.implicit) };
    if (Object.keys(payload).length > 0) unsignable.push(extension.identifier);
    userExtensions[extension.identifier] = { extrinsic, payload };
  }
  return { identifiers: declared.map((extension) => extension.identifier), userExtensions, unsignable };
}

/** The extensions a v14/v15/v16 metadata declares for the extrinsic version polkadot-js signs (v4). */
export function declaredExtensions(metadata: Metadata): DeclaredExtension[] {
  switch (metadata.version) {
    case 14:
    case 15: {
      const extrinsic = metadata.version === 14 ? metadata.asV14.extrinsic : metadata.asV15.extrinsic;
      return extrinsic.signedExtensions.map((extension) => ({
        identifier: extension.identifier.toString(),
        type: extension.type.toNumber(),
        // v15 → latest conversion in @polkadot/types loses additionalSigned, so read it here.
        implicit: extension.additionalSigned.toNumber(),
      }));
    }
    case 16: {
      const extrinsic = metadata.asV16.extrinsic;
      const all = extrinsic.transactionExtensions.map((extension) => ({
        identifier: extension.identifier.toString(),
        type: extension.type.toNumber(),
        implicit: extension.implicit.toNumber(),
      }));
      const forV4 = extrinsic.transactionExtensionsByVersion.get(
        extrinsic.transactionExtensionsByVersion.registry.createType('u8', 0),
      );
      if (forV4 === undefined) return all;
      return forV4.map((index) => {
        const extension = all[index.toNumber()];
        if (extension === undefined)
          throw new RangeError(
            `metadata names transaction extension #${index.toNumber()}, which it does not declare`,
          );
        return extension;
      });
    }
    default:
      throw new RangeError(
        `the runtime's metadata is v${metadata.version}; hashrelay reads v14 to v16 (upgrade hashrelay)`,
      );
  }
}

type Lookup = TypeRegistry['lookup'];

/** `()`, an empty struct or tuple, or a struct of empty things: encodes to no bytes. */
function isEmptyType(lookup: Lookup, id: number): boolean {
  const def = lookup.getSiType(id).def;
  if (def.isTuple) return def.asTuple.every((inner) => isEmptyType(lookup, inner.toNumber()));
  if (def.isComposite)
    return def.asComposite.fields.every((field) => isEmptyType(lookup, field.type.toNumber()));
  return false;
}

/**
 * A type name that does not depend on lookup ids (which change between runtimes): newtypes are
 * unwrapped down to their compact or primitive content, e.g. `Compact<u64>` for a tip.
 */
function typeString(lookup: Lookup, id: number): string {
  const siId = id as unknown as Si1LookupTypeId;
  const def = lookup.getSiType(siId).def;
  if (def.isPrimitive) return def.asPrimitive.type.toLowerCase();
  if (def.isCompact) return `Compact<${typeString(lookup, def.asCompact.type.toNumber())}>`;
  const only = def.isComposite && def.asComposite.fields.length === 1 ? def.asComposite.fields[0] : undefined;
  if (only !== undefined) return typeString(lookup, only.type.toNumber());
  return lookup.getTypeDef(siId).type;
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
