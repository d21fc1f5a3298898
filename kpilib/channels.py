"""Channel normalisation: platform labels and source/medium pairs → the channel list of the
data contract. One mapping, used by every importer, written as SQL from these constants."""
from __future__ import annotations

# Normalised label (lower case, spaces → _) → channel. GA4 default channel groups included.
ALIASES = {
    "organic_search": "organic_search", "seo": "organic_search", "organic": "organic_search",
    "organic_shopping": "organic_search", "organic_video": "organic_social",
    "paid_search": "paid_search", "sea": "paid_search", "cpc": "paid_search",
    "paid_shopping": "paid_search", "cross_network": "paid_search", "ppc": "paid_search",
    "paid_social": "paid_social", "paid_video": "paid_social", "social_ads": "paid_social",
    "organic_social": "organic_social", "social": "organic_social",
    "email": "email", "e_mail": "email", "newsletter": "email",
    "mobile_push_notifications": "email",
    # Text messages are bought and measured apart from e-mail (Attentive, Postscript): a
    # channel of their own, which a shop that counts them as e-mail maps so in Settings.
    "sms": "sms", "text_message": "sms",
    "affiliate": "affiliate", "affiliates": "affiliate", "affiliation": "affiliate",
    "referral": "referral", "partnership": "referral", "partnerships": "referral",
    "display": "display", "paid_other": "display",
    "marketplace": "marketplace", "marketplaces": "marketplace",
    "direct": "direct", "(direct)": "direct", "typed": "direct",
    "unassigned": "other", "(other)": "other", "other": "other",
}

# Social networks as UTM sources spell them.
SOCIAL = r"facebook|fb|instagram|ig|meta|tiktok|pinterest|snapchat|linkedin|twitter|x"

# (source pattern, medium pattern) → channel, first match wins; patterns are SQL regexes.
# Paid clicks from a social network are paid social, not paid search (GA4's default channel
# groups say so too): facebook / cpc is an ad on Facebook.
SOURCE_MEDIUM = (
    (rf"^({SOCIAL})$", r"^(paid|paid_?social|cpm|cpc|ppc|social_?ads|ads?|retargeting)$",
     "paid_social"),
    (r".*", r"^(cpc|ppc|paid_?search|sem)$", "paid_search"),
    (r".*", r"^(paid_?social|social_?paid)$", "paid_social"),
    (r".*", r"^(display|banner|cpm|programmatic)$", "display"),
    (r".*", r"^(sms|text)$", "sms"),
    (r".*", r"^e-?mail|newsletter$", "email"),
    (r"^(newsletter|klaviyo|mailchimp|brevo|sendinblue|omnisend)$", r".*", "email"),
    (r"^(attentive|postscript|smsbump|sms)$", r".*", "sms"),
    (r".*", r"^affiliat", "affiliate"),
    (r"^(\(direct\)|direct)$", r"^(\(none\)|\(not set\)|none|)$", "direct"),
    (r".*", r"^organic$", "organic_search"),
    (r"^(facebook|fb|instagram|ig|tiktok|pinterest|linkedin|twitter|x|youtube|t\.co|"
     r"l\.facebook\.com|lm\.facebook\.com|m\.facebook\.com)$", r"^(social|referral|organic_?social|)$",
     "organic_social"),
    (r"^(amazon|ebay|zalando|cdiscount|etsy|bol\.com|allegro)$", r".*", "marketplace"),
    (r".*", r"^referral$", "referral"),
)


def label_sql(col: str) -> str:
    """SQL mapping a free channel label to the contract's channel; unknown labels keep their
    normalised form, empty → 'unknown'."""
    norm = f"regexp_replace(lower(trim({col})), '[\\s-]+', '_', 'g')"
    cases = " ".join(f"when '{k}' then '{v}'" for k, v in ALIASES.items())
    return f"coalesce(nullif(case {norm} {cases} else {norm} end, ''), 'unknown')"


def source_medium_sql(source: str, medium: str) -> str:
    """SQL mapping a GA4/UTM source and medium to a channel; unmapped pairs → 'other'."""
    s = f"lower(trim(coalesce({source}, '')))"
    m = f"lower(trim(coalesce({medium}, '')))"
    cases = " ".join(f"when regexp_matches({s}, '{sp}') and regexp_matches({m}, '{mp}') "
                     f"then '{ch}'" for sp, mp, ch in SOURCE_MEDIUM)
    return f"case when {s} = '' and {m} = '' then 'unknown' {cases} else 'other' end"


# "app": a Shopify order placed through an app whose id the export gives instead of a name;
# the upload report lists the ids, to be mapped to channels in Settings.
KNOWN = frozenset(ALIASES.values()) | {"unknown", "app"}
CHANNELS = ("organic_search", "paid_search", "paid_social", "organic_social", "email", "sms",
            "affiliate", "referral", "display", "marketplace", "direct", "other")
