--[[ The saga forget of an account: see includes/account.lua. ]]
--@include "includes/account.lua"
return account_confirm(false)
