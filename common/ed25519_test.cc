#include "common/ed25519.h"

#include <gtest/gtest.h>

#include <string>

namespace duplex {
namespace {

TEST(Ed25519, ASignatureVerifiesWithItsKeyOnly) {
  StatusOr<Ed25519KeyPair> pair = GenerateEd25519KeyPair();
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  EXPECT_TRUE(IsLowerHex(pair->public_hex, kEd25519PublicKeyHexChars));
  EXPECT_TRUE(IsLowerHex(pair->secret_hex, kEd25519SecretKeyHexChars));
  StatusOr<std::string> signature = Ed25519Sign("the manifest", pair->secret_hex);
  ASSERT_TRUE(signature.ok()) << signature.status().ToString();
  EXPECT_TRUE(IsLowerHex(*signature, kEd25519SignatureHexChars));
  EXPECT_TRUE(Ed25519Verify("the manifest", *signature, pair->public_hex));

  StatusOr<Ed25519KeyPair> other = GenerateEd25519KeyPair();
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(Ed25519Verify("the manifest", *signature, other->public_hex));
  EXPECT_FALSE(Ed25519Verify("the manifest!", *signature, pair->public_hex));
}

TEST(Ed25519, MalformedKeysAndSignaturesNeverVerify) {
  StatusOr<Ed25519KeyPair> pair = GenerateEd25519KeyPair();
  ASSERT_TRUE(pair.ok());
  StatusOr<std::string> signature = Ed25519Sign("m", pair->secret_hex);
  ASSERT_TRUE(signature.ok());
  std::string upper = pair->public_hex;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  EXPECT_FALSE(Ed25519Verify("m", *signature, pair->public_hex.substr(2)));
  EXPECT_FALSE(Ed25519Verify("m", signature->substr(2), pair->public_hex));
  EXPECT_FALSE(Ed25519Verify("m", std::string(128, 'z'), pair->public_hex));
  EXPECT_FALSE(Ed25519Sign("m", pair->public_hex).ok());
  EXPECT_FALSE(Ed25519Sign("m", std::string(128, 'g')).ok());
}

TEST(Ed25519, ASecretKeyNamesItsPublicKey) {
  StatusOr<Ed25519KeyPair> pair = GenerateEd25519KeyPair();
  ASSERT_TRUE(pair.ok());
  EXPECT_EQ(Ed25519PublicOfSecret(pair->secret_hex), pair->public_hex);
  EXPECT_EQ(Ed25519PublicOfSecret("abc"), "");
}

// RFC 8032 section 7.1, test 2: a fixed key and a one-byte message.
TEST(Ed25519, Rfc8032VectorVerifies) {
  const std::string public_hex = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
  const std::string signature_hex =
      "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
      "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";
  EXPECT_TRUE(Ed25519Verify(std::string(1, '\x72'), signature_hex, public_hex));
  EXPECT_FALSE(Ed25519Verify(std::string(1, '\x73'), signature_hex, public_hex));
}

TEST(Hex, EncodesLowercaseAndChecksLength) {
  EXPECT_EQ(HexEncode(std::string("\x00\xff\x3a", 3)), "00ff3a");
  EXPECT_TRUE(IsLowerHex("00ff3a", 6));
  EXPECT_FALSE(IsLowerHex("00FF3A", 6));
  EXPECT_FALSE(IsLowerHex("00ff3a", 8));
}

}  // namespace
}  // namespace duplex
